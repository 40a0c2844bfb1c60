package meshtest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meshtest/meshtest/meshtest/metrics"
	"github.com/meshtest/meshtest/meshtest/series"
	"github.com/meshtest/meshtest/meshtest/spec"
	"github.com/meshtest/meshtest/meshtest/summary"
	"github.com/meshtest/meshtest/meshtest/workload"
)

// nodeRequests bounds the workload requests in flight at once (records,
// figures, pings), as the sampler's eight workers do.
const nodeRequests = 8

// gossipsubD is go-libp2p-pubsub's default mesh degree (GossipSubD): each
// node grafts this many topic peers, or all it has when it has fewer.
const gossipsubD = 6

// sameHostClock is the summary's clock note for a backend whose containers
// all run on one host.
const sameHostClock = "one host: every container reads the host's clock, so publish-to-delivery delays across nodes carry no clock offset"

// GossipLoad is a gossip workload: Rate messages a second from the whole
// mesh, published by Publishers in turn, each Size bytes. The zero value of
// every field is its default.
type GossipLoad struct {
	Rate       float64       // messages a second from the whole mesh; default 1
	Size       int           // payload bytes, the 24-byte header included; default 1024
	Duration   time.Duration // how long messages are published; default 30 s
	Publishers []string      // nodes that publish, in turn; default every node
	// Warm is the idle start of the window, before the first publish:
	// GossipSub grafts its mesh on its 1 s heartbeat, and each node's idle
	// CPU rate is measured here. Default 5 s.
	Warm time.Duration
	// Drain is the end of the window after the last publish, for the last
	// messages to spread and reach, by gossip (IHAVE/IWANT), nodes a lost
	// packet left out. Default 5 s.
	Drain time.Duration
}

func (l GossipLoad) withDefaults(m *Mesh) GossipLoad {
	l.Rate = cmp.Or(l.Rate, 1)
	l.Size = cmp.Or(l.Size, 1024)
	l.Duration = cmp.Or(l.Duration, 30*time.Second)
	l.Warm = cmp.Or(l.Warm, 5*time.Second)
	l.Drain = cmp.Or(l.Drain, 5*time.Second)
	if len(l.Publishers) == 0 {
		for _, n := range m.Nodes {
			l.Publishers = append(l.Publishers, n.Name)
		}
	}
	return l
}

// messages is how many messages the load publishes.
func (l GossipLoad) messages() int { return max(1, int(l.Rate*l.Duration.Seconds())) }

// GossipReport is what a gossip workload did: Recording.Gossip.
type GossipReport struct {
	Load GossipLoad // defaults filled in
	// PublishStart is when the first message was due, as elapsed time of
	// the recording window.
	PublishStart time.Duration
	Input        workload.GossipInput // what the nodes reported
	Result       workload.GossipResult
	Source       string   // "records" or "subscribe"
	PublishErrs  []string // publishes that failed, at most 10 described
	PublishFails int
	// ControlBytes is what each node sent of control traffic in the
	// window, for specs that count it.
	ControlBytes map[string]float64
	// MeshDegreeSource says where Input.MeshDegree came from.
	MeshDegreeSource string
	Diameter         int
	MeanHops         float64
}

// Publish publishes one message of size bytes (0: the spec's default) from
// node from, through the spec's gossip contract, and returns it. The mesh
// needs Config.Workloads.Topic.
func (m *Mesh) Publish(t testing.TB, from string, size int) workload.Message {
	t.Helper()
	n, err := m.gossipNode(from)
	if err == nil {
		var msg workload.Message
		if msg, err = m.publish(m.ctx, n, size); err == nil {
			return msg
		}
	}
	t.Fatalf("meshtest: publish: %v", err)
	return workload.Message{}
}

// gossipNode is the node called name, if the mesh runs gossip.
func (m *Mesh) gossipNode(name string) (*Node, error) {
	if m.Config.Workloads.Topic == "" {
		return nil, errors.New("the mesh runs no gossip: set Config.Workloads.Topic")
	}
	n := m.node(name)
	if n == nil {
		return nil, fmt.Errorf("no node %q in the mesh", name)
	}
	return n, nil
}

// publish sends one message from n as its spec says.
func (m *Mesh) publish(ctx context.Context, n *Node, size int) (workload.Message, error) {
	api := n.spec.Workloads.Gossip
	path, err := spec.RenderPath(api.Publish.Path, m.nodeData(n.Index))
	if err != nil {
		return workload.Message{}, fmt.Errorf("node %s: %w", n.Name, err)
	}
	u := m.metricsURL(n) + path
	method := cmp.Or(api.Publish.Method, http.MethodPost)
	var body io.Reader
	contentType := "application/json"
	msg := workload.Message{From: n.Name}
	switch api.Publish.Body {
	case spec.BodySize:
		b, _ := json.Marshal(map[string]int{"size": size})
		body = bytes.NewReader(b)
	case spec.BodyMultipart, spec.BodyRaw:
		id, at := workload.NewMessageID(), time.Now()
		msg.ID, msg.At = id.String(), at
		payload := workload.Payload(id, at, cmp.Or(size, 1024))
		if api.Publish.Body == spec.BodyRaw {
			body, contentType = bytes.NewReader(payload), "application/octet-stream"
			break
		}
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		fw, _ := w.CreateFormFile("file", "message")
		fw.Write(payload)
		w.Close()
		body, contentType = &buf, w.FormDataContentType()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return msg, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := m.httpClient().Do(req)
	if err != nil {
		return msg, fmt.Errorf("node %s: %s %s: %w", n.Name, method, path, err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return msg, fmt.Errorf("node %s: %s %s: %s: %s", n.Name, method, path, resp.Status, bytes.TrimSpace(reply))
	}
	if api.Publish.Body == spec.BodySize {
		var r struct {
			ID          string `json:"id"`
			PublishedNS int64  `json:"published_ns"`
		}
		if err := json.Unmarshal(reply, &r); err != nil || r.ID == "" {
			return msg, fmt.Errorf("node %s: %s %s: expected {\"id\",\"published_ns\"}, got %q", n.Name, method, path, reply)
		}
		msg.ID, msg.At = r.ID, time.Unix(0, r.PublishedNS)
	}
	return msg, nil
}

// RecordGossip is RecordSchedule with a gossip workload in the window:
// load.Warm idle, then messages published for load.Duration, then
// load.Drain. Afterwards it reads every node's deliveries and computes the
// propagation, duplicates and cost per message into Recording.Gossip, the
// summary, the charts and the report. Steps (faults) run as in
// RecordSchedule.
func (m *Mesh) RecordGossip(t testing.TB, load GossipLoad, steps ...Step) *Recording {
	t.Helper()
	rec, err := m.recordGossip(load, t.Logf, steps)
	if rec != nil {
		rec.experiment = t.Name()
	}
	if err != nil {
		t.Fatalf("meshtest: record gossip: %v", err)
	}
	m.judge(t, rec)
	return rec
}

func (m *Mesh) recordGossip(load GossipLoad, logf func(string, ...any), steps []Step) (*Recording, error) {
	if m.Config.Workloads.Topic == "" {
		return nil, errors.New("the mesh runs no gossip: set Config.Workloads.Topic")
	}
	load = load.withDefaults(m)
	switch {
	case load.Rate < 0 || math.IsInf(load.Rate, 0) || math.IsNaN(load.Rate):
		return nil, fmt.Errorf("GossipLoad.Rate %v: expected messages a second above 0", load.Rate)
	case load.Size < 0:
		return nil, fmt.Errorf("GossipLoad.Size %d: expected payload bytes, 0 for 1024", load.Size)
	case load.Warm < 0 || load.Drain < 0 || load.Duration < 0:
		return nil, fmt.Errorf("GossipLoad: Warm %v, Duration %v, Drain %v: none may be negative", load.Warm, load.Duration, load.Drain)
	}
	var publishers []*Node
	for _, name := range load.Publishers {
		n := m.node(name)
		if n == nil {
			return nil, fmt.Errorf("GossipLoad.Publishers: no node %q in the mesh", name)
		}
		publishers = append(publishers, n)
	}
	// The warm-up comes before the load, or the first messages would be
	// published while record still waits for the nodes to settle.
	if err := m.warmUpFirst(logf); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(m.ctx)
	defer cancel()
	streams := m.subscribe(ctx)
	ctrl0 := m.gossipFigure(ctx, controlBytes)

	type published struct {
		msgs  []workload.Message
		fails int
		errs  []string
	}
	done := make(chan published, 1)
	begin := time.Now()
	logf("meshtest: gossip: %d messages of %d bytes at %g/s from %d publishers after %v warm-up", load.messages(), load.Size, load.Rate, len(publishers), load.Warm)
	go func() {
		var p published
		defer func() { done <- p }()
		for i := range load.messages() {
			due := begin.Add(load.Warm + time.Duration(float64(i)/load.Rate*float64(time.Second)))
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(due)):
			}
			msg, err := m.publish(ctx, publishers[i%len(publishers)], load.Size)
			if err != nil {
				p.fails++
				if len(p.errs) < 10 {
					p.errs = append(p.errs, err.Error())
				}
				continue
			}
			p.msgs = append(p.msgs, msg)
		}
	}()
	rec, err := m.record(load.Warm+load.Duration+load.Drain, logf, steps)
	if err != nil {
		cancel()
		<-done
		return rec, err
	}
	pub := <-done
	rep := &GossipReport{
		Load: load, PublishStart: begin.Add(load.Warm).Sub(rec.Started),
		PublishFails: pub.fails, PublishErrs: pub.errs,
	}
	rep.Input.Messages = pub.msgs
	for _, n := range m.Nodes {
		if !m.isDown(n) {
			rep.Input.Subscribers = append(rep.Input.Subscribers, n.Name)
		}
	}
	if streams != nil {
		rep.Source = "subscribe"
		if rep.Input.Deliveries, err = streams.stop(); err != nil {
			return rec, err
		}
	} else {
		rep.Source = "records"
		if rep.Input.Deliveries, err = m.gossipRecords(m.ctx, rep.Input.Subscribers); err != nil {
			return rec, err
		}
	}
	rep.ControlBytes = diffCounts(ctrl0, m.gossipFigure(m.ctx, controlBytes))
	// The duplicates floor needs each node's mesh degree: as the node
	// counts it, or else what GossipSub aims for.
	meshPeers := m.gossipFigure(m.ctx, func(g *spec.GossipAPI) *metrics.Query { return g.MeshPeers })
	degrees := m.Graph.Degrees()
	rep.Input.MeshDegree = map[string]int{}
	rep.MeshDegreeSource = "counted by the nodes"
	for i, n := range m.Nodes {
		if d, ok := meshPeers[n.Name]; ok {
			rep.Input.MeshDegree[n.Name] = int(d)
		} else {
			rep.Input.MeshDegree[n.Name] = min(gossipsubD, degrees[i])
			rep.MeshDegreeSource = fmt.Sprintf("assumed min(D = %d, topology degree) where the node does not count it", gossipsubD)
		}
	}
	rep.Result = workload.Gossip(rep.Input)
	rep.Diameter = m.Graph.Diameter()
	var hops []float64
	for _, p := range publishers {
		for j, h := range m.Graph.Hops(p.Index) {
			if j != p.Index && h > 0 {
				hops = append(hops, float64(h))
			}
		}
	}
	rep.MeanHops = series.Describe(hops).Mean
	rec.Gossip = rep
	r := rep.Result
	dups := "duplicates not reported by the nodes"
	if r.Duplicates.N > 0 {
		dups = fmt.Sprintf("%.2f duplicates per delivered message (floor %.2f)", r.Duplicates.Mean, r.DuplicatesFloor)
	}
	logf("meshtest: gossip: %d/%d deliveries (%.1f %%); delay p50 %.1f ms, max %.1f ms; %s; diameter %d, mean %.2f hops",
		r.Delivered, r.Expected, 100*r.DeliveryRatio, 1e3*r.Delay.P50, 1e3*r.Delay.Max, dups, rep.Diameter, rep.MeanHops)
	if pub.fails > 0 {
		return rec, fmt.Errorf("%d of %d publishes failed: %v", pub.fails, load.messages(), pub.errs)
	}
	return rec, nil
}

// gossipRecords reads the records of every node named, a few at a time.
func (m *Mesh) gossipRecords(ctx context.Context, names []string) ([]workload.Delivery, error) {
	var mu sync.Mutex
	var out []workload.Delivery
	var errs []error
	var g errgroup.Group
	g.SetLimit(nodeRequests)
	for _, name := range names {
		n := m.node(name)
		g.Go(func() error {
			ds, err := m.nodeRecords(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			out = append(out, ds...)
			if err != nil {
				errs = append(errs, err) // every node's error, not only the first
			}
			return nil
		})
	}
	g.Wait()
	return out, errors.Join(errs...)
}

// nodeRecords reads one node's records: JSON lines of
// {"id","first_delivery_ns","duplicates"}. A record without a first
// delivery is the node's own message (pubsub does not deliver those
// through its tracer), not a delivery.
func (m *Mesh) nodeRecords(ctx context.Context, n *Node) ([]workload.Delivery, error) {
	path := n.spec.Workloads.Gossip.RecordsPath
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL(n)+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("node %s: GET %s: %w", n.Name, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("node %s: GET %s: %s: %s", n.Name, path, resp.Status, bytes.TrimSpace(msg))
	}
	var out []workload.Delivery
	dec := json.NewDecoder(resp.Body)
	for {
		var r struct {
			ID              string `json:"id"`
			FirstDeliveryNS int64  `json:"first_delivery_ns"`
			Duplicates      int    `json:"duplicates"`
		}
		if err := dec.Decode(&r); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("node %s: GET %s: expected JSON lines {\"id\",\"first_delivery_ns\",\"duplicates\"}: %w", n.Name, path, err)
		}
		if r.FirstDeliveryNS > 0 {
			out = append(out, workload.Delivery{Node: n.Name, ID: r.ID, At: time.Unix(0, r.FirstDeliveryNS), Duplicates: r.Duplicates})
		}
	}
}

// streams are the subscriptions the harness holds to nodes whose spec
// keeps no records.
type streams struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	seen   map[[2]string]bool
	out    []workload.Delivery
	errs   []error
}

// subscribe opens a subscription to every node whose spec has Subscribe
// and waits until each answers; nil when there are none.
func (m *Mesh) subscribe(ctx context.Context) *streams {
	var nodes []*Node
	for _, n := range m.Nodes {
		if n.spec.Workloads.Gossip.Subscribe != nil && !m.isDown(n) {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &streams{cancel: cancel, seen: map[[2]string]bool{}}
	var open sync.WaitGroup
	for _, n := range nodes {
		open.Add(1)
		s.wg.Go(func() { s.read(ctx, m, n, open.Done) })
	}
	open.Wait()
	return s
}

// read holds one node's subscription, recording each message's first
// arrival by the harness's clock. It calls opened once the node answered
// (or failed to).
func (s *streams) read(ctx context.Context, m *Mesh, n *Node, opened func()) {
	st := n.spec.Workloads.Gossip.Subscribe
	fail := func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if ctx.Err() == nil {
			s.errs = append(s.errs, fmt.Errorf("node %s: subscription: %w", n.Name, err))
		}
	}
	path, err := spec.RenderPath(st.Path, m.nodeData(n.Index))
	if err != nil {
		opened()
		fail(err)
		return
	}
	req, err := http.NewRequestWithContext(ctx, cmp.Or(st.Method, http.MethodPost), m.metricsURL(n)+path, nil)
	if err != nil {
		opened()
		fail(err)
		return
	}
	resp, err := m.longClient().Do(req)
	opened()
	if err != nil {
		fail(err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fail(fmt.Errorf("%s %s: %s: %s", req.Method, path, resp.Status, bytes.TrimSpace(msg)))
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20) // a 1 MiB payload in base64, and the envelope
	defer func() {
		if err := sc.Err(); err != nil {
			fail(err)
		} else {
			fail(errors.New("the stream ended before the window did"))
		}
	}()
	for sc.Scan() {
		at := time.Now()
		var line map[string]json.RawMessage
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		var field string
		if json.Unmarshal(line[st.Data], &field) != nil {
			continue
		}
		payload, err := decodeData(field, st.Encoding)
		if err != nil {
			continue
		}
		id, _, ok := workload.ParseHeader(payload)
		if !ok {
			continue
		}
		key := [2]string{n.Name, id.String()}
		s.mu.Lock()
		if !s.seen[key] {
			s.seen[key] = true
			s.out = append(s.out, workload.Delivery{Node: n.Name, ID: id.String(), At: at, Duplicates: -1})
		}
		s.mu.Unlock()
	}
}

// stop closes the subscriptions and returns what they delivered, and why
// any of them failed before.
func (s *streams) stop() ([]workload.Delivery, error) {
	s.cancel()
	s.wg.Wait()
	return s.out, errors.Join(s.errs...)
}

// decodeData decodes a payload field: multibase (base64url "u", base64
// "m") or standard base64.
func decodeData(s, encoding string) ([]byte, error) {
	if encoding == "base64" {
		return base64.StdEncoding.DecodeString(s)
	}
	if s == "" {
		return nil, errors.New("empty multibase string")
	}
	switch s[0] {
	case 'u':
		return base64.RawURLEncoding.DecodeString(s[1:])
	case 'U':
		return base64.URLEncoding.DecodeString(s[1:])
	case 'm':
		return base64.RawStdEncoding.DecodeString(s[1:])
	case 'M':
		return base64.StdEncoding.DecodeString(s[1:])
	}
	return nil, fmt.Errorf("multibase prefix %q: expected u, U, m or M", s[0])
}

// gossipFigure reads one figure of every node whose spec's gossip
// contract names it (which picks the query: ControlBytes, MeshPeers);
// nodes that do not answer are left out.
func (m *Mesh) gossipFigure(ctx context.Context, which func(*spec.GossipAPI) *metrics.Query) map[string]float64 {
	out := map[string]float64{}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(nodeRequests)
	for _, n := range m.Nodes {
		q := which(n.spec.Workloads.Gossip)
		if q == nil || m.isDown(n) {
			continue
		}
		g.Go(func() error {
			u := m.metricsEndpoint(n, []string{q.Family})
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			fams, err := (&metrics.Scraper{Client: m.httpClient()}).Scrape(sctx, u)
			if err != nil {
				return nil // left out, as the doc says
			}
			vals, _ := metrics.Extract(fams, []metrics.Query{*q})
			if v, ok := vals[q.Name]; ok {
				mu.Lock()
				out[n.Name] = v
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	return out
}

func controlBytes(g *spec.GossipAPI) *metrics.Query { return g.ControlBytes }

// diffCounts is after − before for the nodes in both.
func diffCounts(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, a := range after {
		if b, ok := before[k]; ok {
			out[k] = a - b
		}
	}
	return out
}

// gossipCost is, per role, what each node's delivered messages cost it,
// from the samples of the window (see summary.GossipCost).
func (r *Recording) gossipCost() map[string]summary.GossipCost {
	g := r.Gossip
	out := map[string]summary.GossipCost{}
	for _, role := range r.Roles() {
		var cpu, above, mem []float64
		for _, node := range r.Nodes(role) {
			delivered := g.Result.PerNode[node].Delivered
			if delivered == 0 {
				continue
			}
			first, okF := r.valueAt(node, FigCPUSeconds, 0)
			start, okS := r.valueAt(node, FigCPUSeconds, g.PublishStart)
			end, okE := r.lastValue(node, FigCPUSeconds)
			if okS && okE && end.at > start.at {
				cpu = append(cpu, (end.v-start.v)/float64(delivered))
				if okF && start.at > first.at {
					idle := (start.v - first.v) / (start.at - first.at).Seconds()
					above = append(above, (end.v-start.v-idle*(end.at-start.at).Seconds())/float64(delivered))
				}
			}
			m0, ok0 := r.valueAt(node, FigMemBytes, g.PublishStart)
			m1, ok1 := r.lastValue(node, FigMemBytes)
			if ok0 && ok1 && m1.at > m0.at {
				mem = append(mem, (m1.v-m0.v)/float64(delivered))
			}
		}
		out[role] = summary.GossipCost{
			CPUSecondsPerMessage:          series.Describe(cpu),
			CPUSecondsPerMessageAboveIdle: series.Describe(above),
			MemBytesPerMessage:            series.Describe(mem),
		}
	}
	return out
}

// timedValue is a figure's value in a sample and when it was taken.
type timedValue struct {
	v  float64
	at time.Duration
}

// valueAt is node's first finite value of figure sampled at or after at.
func (r *Recording) valueAt(node, figure string, at time.Duration) (timedValue, bool) {
	for _, s := range r.Samples {
		if s.IsEvent() || s.Node != node || s.Elapsed < at {
			continue
		}
		if v, ok := s.Values[figure]; ok && !math.IsNaN(v) {
			return timedValue{v, s.Elapsed}, true
		}
	}
	return timedValue{}, false
}

// lastValue is node's last finite value of figure.
func (r *Recording) lastValue(node, figure string) (timedValue, bool) {
	for _, s := range slices.Backward(r.Samples) {
		if s.IsEvent() || s.Node != node {
			continue
		}
		if v, ok := s.Values[figure]; ok && !math.IsNaN(v) {
			return timedValue{v, s.Elapsed}, true
		}
	}
	return timedValue{}, false
}

// gossipSummary is the summary's gossip section; nil without a workload.
func (r *Recording) gossipSummary() *summary.Gossip {
	g := r.Gossip
	if g == nil {
		return nil
	}
	var ctrl []float64
	for _, v := range g.ControlBytes {
		ctrl = append(ctrl, v)
	}
	return &summary.Gossip{
		Topic: r.Config.Workloads.Topic, RatePerS: g.Load.Rate, SizeBytes: g.Load.Size,
		WarmS: g.Load.Warm.Seconds(), PublishS: g.Load.Duration.Seconds(), DrainS: g.Load.Drain.Seconds(),
		Publishers: len(g.Load.Publishers), PublishErrors: g.PublishFails,
		Source: g.Source, Clock: r.Mesh.clockNote(),
		Diameter: g.Diameter, MeanHops: g.MeanHops, MeshD: gossipsubD, MeshDegreeSource: g.MeshDegreeSource,
		GossipResult:     g.Result,
		Cost:             r.gossipCost(),
		ControlBytesSent: series.Describe(ctrl),
		DeliveriesFile:   "deliveries.csv",
	}
}

// clockNote says whose clocks one-way delays were taken with.
func (m *Mesh) clockNote() string {
	info := m.environment().engine
	switch {
	case info.Backend == "docker":
		return sameHostClock
	case len(info.Clocks) == 0:
		return fmt.Sprintf("backend %s may span hosts: delays across hosts carry their clock offset, which was not measured", info.Backend)
	}
	// A delay from a node on engine a to one on engine b is off by b's
	// offset less a's; the worst pair, with both uncertainties, bounds it.
	// The estimates share the engines' own bias (an engine reads its clock
	// early in the info call), so their spread is the likelier error; the
	// uncertainties bound it.
	lo, hi := math.Inf(1), math.Inf(-1)
	elo, ehi := math.Inf(1), math.Inf(-1)
	var each []string
	for _, c := range info.Clocks {
		lo, hi = min(lo, c.OffsetMs-c.UncertaintyMs), max(hi, c.OffsetMs+c.UncertaintyMs)
		elo, ehi = min(elo, c.OffsetMs), max(ehi, c.OffsetMs)
		each = append(each, c.String())
	}
	return fmt.Sprintf("backend %s: engines' clocks against the harness's %s; a delay between nodes on two engines is off by their offsets' difference, at most %.2f ms between these estimates and %.2f ms with their uncertainty", info.Backend, strings.Join(each, ", "), ehi-elo, hi-lo)
}

// PerfLoad is a series of perf runs (libp2p's /perf/1.0.0) from one node
// to another. Measure a link's throughput as libp2p/test-plans does, with
// an upload-only load and a download-only one: a download after an upload
// in the same run starts behind the queue the upload left (see TestPerf).
type PerfLoad struct {
	Upload, Download uint64 // bytes each run sends and receives
	Runs             int    // default 5
	// NewConnection makes every run dial a connection of its own, measure
	// its establishment plus one round trip, and close it afterwards.
	// Without it the runs use the connection the topology made, and the
	// two nodes must be neighbours.
	NewConnection bool
}

// Perf runs load from node from to node to, both with Config.Workloads.Perf,
// and returns throughput and connection time over the runs; the series is
// also in the summary and the report. Run it outside a Record window when
// NewConnection is set: a connection the topology does not have would be
// drift.
func (m *Mesh) Perf(t testing.TB, from, to string, load PerfLoad) workload.PerfResult {
	t.Helper()
	res, err := m.perf(from, to, load)
	if err != nil {
		t.Fatalf("meshtest: perf %s→%s: %v", from, to, err)
	}
	return res
}

func (m *Mesh) perf(from, to string, load PerfLoad) (workload.PerfResult, error) {
	if !m.Config.Workloads.Perf {
		return workload.PerfResult{}, errors.New("the mesh runs no perf: set Config.Workloads.Perf")
	}
	a, b := m.node(from), m.node(to)
	switch {
	case a == nil:
		return workload.PerfResult{}, fmt.Errorf("no node %q in the mesh", from)
	case b == nil:
		return workload.PerfResult{}, fmt.Errorf("no node %q in the mesh", to)
	case load.Upload == 0 && load.Download == 0 && !load.NewConnection:
		return workload.PerfResult{}, errors.New("PerfLoad moves nothing: set Upload or Download (bytes), or NewConnection to time handshakes")
	}
	load.Runs = cmp.Or(load.Runs, 5)
	body := map[string]any{"peer": b.PeerID, "upload_bytes": load.Upload, "download_bytes": load.Download}
	if load.NewConnection {
		body["addr"] = b.spec.DialAddr(b.Name, b.spec.P2PPort, b.PeerID)
		body["close"] = true
	}
	var runs []workload.PerfRun
	for range load.Runs {
		var r perfResponse
		if err := m.postJSON(m.ctx, a, a.spec.Workloads.PerfPath, body, &r, 6*time.Minute); err != nil && r.Error == "" {
			r.Error = err.Error()
		}
		runs = append(runs, r.run())
		if load.NewConnection {
			// Both ends back to their topology before the next run: a
			// run must not find the last one's connection half closed,
			// nor a Record after them a connection the topology lacks.
			pair := func(i int) bool { return i != a.Index && i != b.Index }
			if _, err := m.prove(m.ctx, m.Graph, pair, 30*time.Second, "after a perf run's connection closed"); err != nil {
				return workload.Perf(runs), err
			}
		}
	}
	res := workload.Perf(runs)
	s := summary.Perf{
		From: from, To: to, Transport: a.spec.TransportName(), Security: a.spec.SecurityName(),
		UploadBytes: load.Upload, DownloadBytes: load.Download, NewConnection: load.NewConnection,
		PerfResult: res,
	}
	nodes := m.conditionNodes()
	if rtt := m.Config.Conditions.Expect(nodes[a.Index], nodes[b.Index]).RTT; rtt > 0 {
		s.PathRTTS = rtt.Seconds()
		if k := res.RoundTrips(rtt); !math.IsNaN(k) {
			s.ConnectionRoundTrips = k
		}
	}
	m.workMu.Lock()
	m.perfs = append(m.perfs, s)
	m.workMu.Unlock()
	if res.Failed == load.Runs {
		return res, fmt.Errorf("every run failed: %v", res.Errors)
	}
	return res, nil
}

// perfResponse is a node's answer to a perf request (node.PerfResponse,
// the fields the harness reads).
type perfResponse struct {
	UploadBytes       uint64 `json:"upload_bytes"`
	DownloadBytes     uint64 `json:"download_bytes"`
	TimeToFirstByteNs int64  `json:"time_to_first_byte_ns"`
	DownloadNs        int64  `json:"download_ns"`
	TotalNs           int64  `json:"total_ns"`
	ConnectionNs      int64  `json:"connection_ns"`
	Error             string `json:"error"`
}

// run is r as a workload.PerfRun. The upload is timed end to end, as
// libp2p/test-plans times it: the server sends its first byte, or closes
// the stream when there is nothing to download, only once the whole upload
// has arrived, so the time to the first byte (or to the end, without a
// download) covers the upload plus one way back. The client's own upload
// time ends when its last byte is written locally, with bytes still in
// flight.
func (r perfResponse) run() workload.PerfRun {
	upload := time.Duration(r.TimeToFirstByteNs)
	if r.DownloadBytes == 0 {
		upload = time.Duration(r.TotalNs)
	}
	return workload.PerfRun{
		UploadBytes: r.UploadBytes, DownloadBytes: r.DownloadBytes,
		Upload: upload, Download: time.Duration(r.DownloadNs),
		Total: time.Duration(r.TotalNs), Connection: time.Duration(r.ConnectionNs), Err: r.Error,
	}
}

// postJSON posts body to n's path and decodes the JSON answer into out,
// whatever the status; an error says why the answer is not a 200.
func (m *Mesh) postJSON(ctx context.Context, n *Node, path string, body, out any, timeout time.Duration) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.metricsURL(n)+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return m.doJSON(n, req, out)
}

// doJSON sends req to n and decodes its JSON answer into out; req's
// context bounds it.
func (m *Mesh) doJSON(n *Node, req *http.Request, out any) error {
	resp, err := m.longClient().Do(req)
	if err != nil {
		return fmt.Errorf("node %s: %s %s: %w", n.Name, req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("node %s: %s %s: %s: not JSON: %q", n.Name, req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(data))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("node %s: %s %s: %s", n.Name, req.Method, req.URL.Path, resp.Status)
	}
	return nil
}

// EdgeRTT is the round trips of one edge of the topology.
type EdgeRTT struct {
	From, To string // From asked, over the connection to To
	RTTs     []time.Duration
	Err      string
}

// Ping measures count round trips (/ipfs/ping/1.0.0) over every edge of
// the topology, asked from the end that dialed, a few edges at a time. The
// mesh needs Config.Workloads.Ping; the edges and their figures are also
// in the summary.
func (m *Mesh) Ping(t testing.TB, count int) []EdgeRTT {
	t.Helper()
	out, err := m.ping(count)
	if err != nil {
		t.Fatalf("meshtest: ping: %v", err)
	}
	return out
}

func (m *Mesh) ping(count int) ([]EdgeRTT, error) {
	if !m.Config.Workloads.Ping {
		return nil, errors.New("the mesh runs no ping: set Config.Workloads.Ping")
	}
	if count < 1 || count > 100 {
		return nil, fmt.Errorf("count %d: expected 1 to 100 round trips an edge", count)
	}
	out := make([]EdgeRTT, len(m.Graph.Edges))
	var g errgroup.Group
	g.SetLimit(nodeRequests)
	for i, e := range m.Graph.Edges {
		a, b := m.Nodes[e.From], m.Nodes[e.To]
		out[i] = EdgeRTT{From: a.Name, To: b.Name}
		g.Go(func() error {
			var r struct {
				RTTs  []int64 `json:"rtts_ns"`
				Error string  `json:"error"`
			}
			q := url.Values{"peer": {b.PeerID}, "count": {strconv.Itoa(count)}}
			ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.metricsURL(a)+a.spec.Workloads.PingPath+"?"+q.Encode(), nil)
			if err == nil {
				err = m.doJSON(a, req, &r)
			}
			for _, ns := range r.RTTs {
				out[i].RTTs = append(out[i].RTTs, time.Duration(ns))
			}
			out[i].Err = cmp.Or(r.Error, errString(err))
			return nil
		})
	}
	g.Wait()
	s := summary.Ping{Count: count, Edges: len(out)}
	var all, medians []float64
	for _, e := range out {
		if e.Err != "" {
			s.Failed = append(s.Failed, fmt.Sprintf("%s→%s: %s", e.From, e.To, e.Err))
		}
		var xs []float64
		for _, d := range e.RTTs {
			xs = append(xs, d.Seconds())
		}
		all = append(all, xs...)
		if len(xs) > 0 {
			medians = append(medians, series.Percentile(xs, 50))
		}
	}
	s.RTTS, s.PerEdgeMedianS = series.Describe(all), series.Describe(medians)
	m.workMu.Lock()
	m.pings = append(m.pings, s)
	m.workMu.Unlock()
	if len(s.Failed) > 0 {
		return out, fmt.Errorf("%d of %d edges failed: %s", len(s.Failed), len(out), s.Failed[0])
	}
	return out, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
