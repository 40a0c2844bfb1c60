package monitor

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	promconfig "github.com/prometheus/prometheus/config"
	"go.yaml.in/yaml/v3"
)

// promConfig is the part of prometheus.yml that Config writes.
type promConfig struct {
	Global struct {
		ScrapeInterval string            `yaml:"scrape_interval"`
		ScrapeTimeout  string            `yaml:"scrape_timeout"`
		ExternalLabels map[string]string `yaml:"external_labels"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func TestConfig(t *testing.T) {
	star := []Target{
		{Node: "bootstrap", Role: "bootstrap", Group: "bootstrap", Address: "mt-abc-bootstrap:9100", MetricsPath: "/metrics"},
		{Node: "peer-0", Role: "peer", Group: "peers", Address: "mt-abc-peer-0:9100", MetricsPath: "/debug/metrics"},
		{Node: "peer-1", Role: "peer", Group: "peers", Address: "mt-abc-peer-1:9100", MetricsPath: "/debug/metrics"},
	}
	for _, c := range []struct {
		name     string // and testdata/config/<name>.yml
		run      string
		interval time.Duration
		targets  []Target
		harness  string
		jobs     []string
		timeout  string
	}{
		{"star", "abc", time.Second, star, "172.18.0.1:41234",
			[]string{"nodes-bootstrap", "nodes-peers", "meshtest-harness"}, "900ms"},
		{"interleaved-groups", "r2", 10 * time.Second, []Target{
			{Node: "a-0", Role: "a", Group: "a", Address: "a-0:9100"},
			{Node: "b-0", Role: "b", Group: "b", Address: "b-0:9100"},
			{Node: "a-1", Role: "a", Group: "a", Address: "a-1:9100"},
		}, "172.18.0.1:1", []string{"nodes-a", "nodes-b", "meshtest-harness"}, "9s"},
		{"no-harness", "r3", 1500 * time.Millisecond, star[:1], "",
			[]string{"nodes-bootstrap"}, "1350ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Config(c.run, c.interval, c.targets, c.harness)
			golden := filepath.Join("testdata", "config", c.name+".yml")
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				out := filepath.Join(t.ArtifactDir(), c.name+".yml")
				os.WriteFile(out, []byte(got), 0o644)
				t.Errorf("Config differs from %s; got in %s:\n%s", golden, out, got)
			}

			// Prometheus's own loader is the judge of what the server accepts.
			if _, err := promconfig.Load(got, nil); err != nil {
				t.Errorf("Prometheus %s rejects the config: %v", Version, err)
			}

			var cfg promConfig
			if err := yaml.Unmarshal([]byte(got), &cfg); err != nil {
				t.Fatalf("Config is not YAML: %v\n%s", err, got)
			}
			if g := cfg.Global.ExternalLabels["meshtest_run"]; g != c.run {
				t.Errorf("external label meshtest_run = %q, want %q", g, c.run)
			}
			if cfg.Global.ScrapeTimeout != c.timeout {
				t.Errorf("scrape_timeout = %q, want %q", cfg.Global.ScrapeTimeout, c.timeout)
			}
			var jobs []string
			nodes := map[string]map[string]string{} // node -> labels
			for _, sc := range cfg.ScrapeConfigs {
				jobs = append(jobs, sc.JobName)
				for _, st := range sc.StaticConfigs {
					if st.Labels != nil {
						nodes[st.Labels["node"]] = st.Labels
					}
				}
			}
			if !slices.Equal(jobs, c.jobs) {
				t.Errorf("jobs %q, want %q", jobs, c.jobs)
			}
			for _, tg := range c.targets {
				l := nodes[tg.Node]
				if l["role"] != tg.Role || l["group"] != tg.Group {
					t.Errorf("node %s: labels %v, want role %q group %q", tg.Node, l, tg.Role, tg.Group)
				}
			}
		})
	}
}
