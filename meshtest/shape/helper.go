package shape

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// HelperConfig is what a helper (meshshaper -serve) is started with.
type HelperConfig struct {
	// Iface is the interface to shape; default eth0.
	Iface string
	// Token is the bearer token every control request must carry; required.
	Token string
	// Kernel is what Detect found; it is only reported.
	Kernel Mechanism
	// ControlAddr and ProbeAddr are where to listen; default every IPv4
	// address of the node at ControlPort and ProbePort.
	ControlAddr, ProbeAddr string
}

func (c HelperConfig) withDefaults() HelperConfig {
	if c.Iface == "" {
		c.Iface = "eth0"
	}
	if c.ControlAddr == "" {
		c.ControlAddr = "0.0.0.0:" + strconv.Itoa(ControlPort)
	}
	if c.ProbeAddr == "" {
		c.ProbeAddr = "0.0.0.0:" + strconv.Itoa(ProbePort)
	}
	return c
}

// rulesTarget is the part of a helper that changes the network: the
// interface's Shaper on Linux, a fake in the handler's tests.
type rulesTarget interface {
	setRules(Rules) (Applied, error)
	stats() HelperStats // Rules, Mechanism, Delay and Classes
	close() error
}

// Helper is a running helper: the control API, the probe server, and the
// rules it put in force. Close removes the rules.
type Helper struct {
	cfg    HelperConfig
	target rulesTarget
	cpu    func() time.Duration // the process's CPU time so far
	cpu0   time.Duration

	mu     sync.Mutex // serialises rule changes and Close
	closed bool

	closeOnce sync.Once
	closeErr  error

	probes *probeServer
	ln     net.Listener
	srv    *http.Server
}

// startHelper listens on cfg's addresses and serves until Close. On error
// nothing is left listening.
func startHelper(cfg HelperConfig, target rulesTarget, cpu func() time.Duration) (*Helper, error) {
	cfg = cfg.withDefaults()
	if cfg.Token == "" {
		return nil, errors.New("helper: no token; every control request is authenticated")
	}
	h := &Helper{cfg: cfg, target: target, cpu: cpu, cpu0: cpu()}
	var err error
	if h.probes, err = listenProbes(cfg.ProbeAddr); err != nil {
		return nil, fmt.Errorf("helper: %w", err)
	}
	if h.ln, err = net.Listen("tcp", cfg.ControlAddr); err != nil {
		h.probes.Close()
		return nil, fmt.Errorf("helper: control: %w", err)
	}
	// No write timeout: a probe answers after it ran, up to maxProbeTime.
	h.srv = &http.Server{Handler: h.handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	go h.srv.Serve(h.ln)
	return h, nil
}

// ControlAddr is the address the control API listens on.
func (h *Helper) ControlAddr() string { return h.ln.Addr().String() }

// ProbePort is the port the probe server listens on, TCP and UDP.
func (h *Helper) ProbePort() int { return h.probes.Port() }

// Stats returns what GET /stats answers.
func (h *Helper) Stats() HelperStats {
	st := h.target.stats()
	st.Kernel, st.Iface = h.cfg.Kernel, h.cfg.Iface
	st.CPU = h.cpu() - h.cpu0
	return st
}

// Close stops serving, then removes every rule, and returns the final
// counters. Requests in flight are cut off; a probe in flight ends with an
// error.
// Close is idempotent.
func (h *Helper) Close() (HelperStats, error) {
	h.closeOnce.Do(func() {
		errs := []error{h.srv.Close()}
		h.mu.Lock()
		h.closed = true
		errs = append(errs, h.target.close())
		h.mu.Unlock()
		errs = append(errs, h.probes.Close())
		h.closeErr = errors.Join(errs...)
	})
	return h.Stats(), h.closeErr
}

func (h *Helper) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, HelperStatus{Kernel: h.cfg.Kernel, Iface: h.cfg.Iface})
	})
	mux.HandleFunc("PUT /rules", h.putRules)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, h.Stats())
	})
	mux.HandleFunc("POST /probe/rtt", h.probeRTT)
	mux.HandleFunc("POST /probe/throughput", h.probeThroughput)
	mux.HandleFunc("POST /probe/rate", h.probeRate)
	token := []byte("Bearer " + h.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshshaper"`)
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token (Authorization: Bearer $MESHSHAPER_TOKEN)"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (h *Helper) putRules(w http.ResponseWriter, r *http.Request) {
	var rules Rules
	if err := decode(w, r, &rules); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("rules: %w", err))
		return
	}
	if err := rules.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		writeError(w, http.StatusServiceUnavailable, errors.New("the helper is shutting down"))
		return
	}
	a, err := h.target.setRules(rules)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (h *Helper) probeRTT(w http.ResponseWriter, r *http.Request) {
	var p RTTProbe
	if err := decode(w, r, &p); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("rtt probe: %w", err))
		return
	}
	if err := p.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	p = p.withDefaults()
	conn, err := dialProbe(r.Context(), "udp", p)
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Errorf("rtt probe to %v: %w", p.To, err))
		return
	}
	defer conn.Close()
	run, err := probeRTT(r.Context(), conn, p)
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Errorf("rtt probe to %v: %w", p.To, err))
		return
	}
	writeJSON(w, http.StatusOK, run.result())
}

func (h *Helper) probeThroughput(w http.ResponseWriter, r *http.Request) {
	var p ThroughputProbe
	if err := decode(w, r, &p); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("throughput probe: %w", err))
		return
	}
	if err := p.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	p = p.withDefaults()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	conn, err := dialProbe(ctx, "tcp", RTTProbe{To: p.To, Port: p.Port})
	cancel()
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Errorf("throughput probe to %v: %w", p.To, err))
		return
	}
	defer conn.Close()
	res, err := probeThroughput(r.Context(), conn, p)
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Errorf("throughput probe to %v: %w", p.To, err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *Helper) probeRate(w http.ResponseWriter, r *http.Request) {
	var p RateProbe
	if err := decode(w, r, &p); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("rate probe: %w", err))
		return
	}
	if err := p.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	p = p.withDefaults()
	conn, err := dialProbe(r.Context(), "udp", RTTProbe{To: p.To, Port: p.Port})
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Errorf("rate probe to %v: %w", p.To, err))
		return
	}
	defer conn.Close()
	res, err := probeRate(r.Context(), conn, p)
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Errorf("rate probe to %v: %w", p.To, err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// decode reads one JSON value into v, refusing unknown fields: a misspelt
// "latency" for "latency_ns" must not pass as no delay.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one JSON value in the body")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{Error: err.Error()})
}
