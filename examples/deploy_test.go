// Package examples_test checks the deployment examples of
// docs/high-availability.md: the Kubernetes manifests and the systemd
// units must stay valid and consistent with tocsin's flags and config.
package examples_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// manifest is what the test reads of a Kubernetes object.
type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		ClusterIP                string `yaml:"clusterIP"`
		PublishNotReadyAddresses bool   `yaml:"publishNotReadyAddresses"`
		Ports                    []struct {
			Port     int    `yaml:"port"`
			Protocol string `yaml:"protocol"`
		} `yaml:"ports"`
		ServiceName string `yaml:"serviceName"`
		Replicas    int    `yaml:"replicas"`
		Template    struct {
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
				} `yaml:"containers"`
				Volumes []struct {
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var all []manifest
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var m manifest
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "%s document %d", f, i)
			require.NotEmpty(t, m.APIVersion, "%s document %d: apiVersion", f, i)
			require.NotEmpty(t, m.Kind, "%s document %d: kind", f, i)
			require.NotEmpty(t, m.Metadata.Name, "%s document %d: metadata.name", f, i)
			require.NotEmpty(t, m.Metadata.Namespace, "%s document %d: metadata.namespace", f, i)
			all = append(all, m)
		}
	}
	return all
}

func find(t *testing.T, all []manifest, kind, name string) manifest {
	t.Helper()
	for _, m := range all {
		if m.Kind == kind && m.Metadata.Name == name {
			return m
		}
	}
	t.Fatalf("no %s %q in examples/kubernetes", kind, name)
	return manifest{}
}

// flagValues returns the values of a repeatable --name=value flag.
func flagValues(args []string, name string) []string {
	var out []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	all := readManifests(t)
	var sts manifest
	for _, m := range all {
		if m.Kind == "StatefulSet" {
			sts = m
		}
	}
	require.Equal(t, "StatefulSet", sts.Kind)
	require.GreaterOrEqual(t, sts.Spec.Replicas, 3)
	svc := find(t, all, "Service", sts.Spec.ServiceName)
	require.Equal(t, "None", svc.Spec.ClusterIP, "the StatefulSet's service must be headless")
	require.True(t, svc.Spec.PublishNotReadyAddresses, "starting replicas must find each other before they are ready")

	require.Len(t, sts.Spec.Template.Spec.Containers, 1)
	args := sts.Spec.Template.Spec.Containers[0].Args
	require.Equal(t, "run", args[0])
	listen := flagValues(args, "cluster.listen-address")
	require.Len(t, listen, 1)
	_, port, ok := strings.Cut(listen[0], ":")
	require.True(t, ok)
	for _, p := range svc.Spec.Ports {
		require.Equal(t, port, fmt.Sprint(p.Port), "the headless Service exposes the gossip port")
	}
	require.ElementsMatch(t, []string{"TCP", "UDP"}, []string{svc.Spec.Ports[0].Protocol, svc.Spec.Ports[1].Protocol}, "memberlist gossips over TCP and UDP")

	// Every pod of the StatefulSet, by its stable name under the headless
	// Service, and nothing else.
	var want []string
	for i := range sts.Spec.Replicas {
		want = append(want, fmt.Sprintf("%s-%d.%s.%s.svc:%s", sts.Metadata.Name, i, svc.Metadata.Name, sts.Metadata.Namespace, port))
	}
	require.Equal(t, want, flagValues(args, "cluster.peer"))
	require.Len(t, flagValues(args, "cluster.advertise-address"), 1)

	// The config inside the ConfigMap passes tocsin's loader, with the
	// files it names (secrets) created where the pod mounts them.
	var cms []string
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cms = append(cms, v.ConfigMap.Name)
		}
	}
	require.Contains(t, cms, "tocsin-config")
	cm := find(t, all, "ConfigMap", "tocsin-config")
	file := flagValues(args, "config.file")
	require.Equal(t, []string{"/etc/tocsin/tocsin.yml"}, file)
	cfg := loadConfig(t, cm.Data["tocsin.yml"], "/etc/tocsin-secrets/")
	watchdogOnlyPings(t, cfg)
}

// loadConfig loads a config as tocsin would, after moving the secret
// files it names under secretDir into a temporary directory.
func loadConfig(t *testing.T, text, secretDir string) *configs.Config {
	t.Helper()
	dir := t.TempDir()
	secrets := regexp.MustCompile(regexp.QuoteMeta(secretDir) + `[\w.-]+`)
	for _, path := range secrets.FindAllString(text, -1) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(path)), []byte("https://secret.example/T0K3N\n"), 0o600))
	}
	text = strings.ReplaceAll(text, secretDir, dir+"/")
	cfg, err := configs.Load(filepath.Join(dir, "tocsin.yml"), []byte(text))
	require.NoError(t, err)
	return cfg
}

// watchdogOnlyPings checks that the Watchdog alert reaches only receivers
// whose integrations are all deadman ones, and at least one of them.
func watchdogOnlyPings(t *testing.T, cfg *configs.Config) {
	t.Helper()
	route, err := notifiers.NewRoute(cfg.Route)
	require.NoError(t, err)
	matched := route.Match(model.LabelSet{"alertname": "Watchdog", "severity": "none", "replica": "r1"})
	require.NotEmpty(t, matched)
	for _, r := range matched {
		idx := slices.IndexFunc(cfg.Receivers, func(rc *configs.ReceiverConfig) bool { return rc.Name == r.Receiver })
		require.GreaterOrEqual(t, idx, 0)
		rc := *cfg.Receivers[idx]
		require.NotEmpty(t, rc.DeadmanConfigs, "receiver %q of Watchdog pings nothing", rc.Name)
		rc.DeadmanConfigs = nil
		require.Equal(t, configs.ReceiverConfig{Name: rc.Name, Strategy: rc.Strategy, FailoverAfter: rc.FailoverAfter}, rc,
			"receiver %q of Watchdog has integrations that page people", rc.Name)
		require.LessOrEqual(t, 5*r.GroupInterval, r.RepeatInterval, "group_interval delays each ping by up to itself; keep it under a fifth of repeat_interval")
	}
}

func TestShippedConfigRoutesWatchdogToDeadmanOnly(t *testing.T) {
	text, err := configs.Defaults.ReadFile("tocsin.yml")
	require.NoError(t, err)
	watchdogOnlyPings(t, loadConfig(t, string(text), "/nonexistent/"))
}

// unit is a systemd unit file: its sections, each a list of key=value in
// order (keys repeat).
type unit map[string][][2]string

func (u unit) get(section, key string) []string {
	var out []string
	for _, kv := range u[section] {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

// parseUnit reads a unit file as systemd does: comments, sections,
// key=value lines and lines continued with a trailing backslash.
func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	u := unit{}
	section, pending := "", ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") {
			require.True(t, strings.HasSuffix(line, "]"), "%s:%d: bad section header", path, n)
			section = strings.Trim(line, "[]")
			u[section] = nil
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s:%d: not key=value", path, n)
		require.NotEmpty(t, section, "%s:%d: key outside a section", path, n)
		u[section] = append(u[section], [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	require.NoError(t, sc.Err())
	require.Empty(t, pending, "%s ends inside a continued line", path)
	return u
}

// readEnv reads an EnvironmentFile: VAR=value lines and comments.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q is not VAR=value", path, line)
		env[k] = v
	}
	return env
}

func TestSystemdUnits(t *testing.T) {
	u := parseUnit(t, "systemd/tocsin.service")
	require.Contains(t, u, "Unit")
	require.Contains(t, u, "Service")
	require.Contains(t, u, "Install")
	exec := u.get("Service", "ExecStart")
	require.Len(t, exec, 1)
	args := strings.Fields(exec[0])
	require.Equal(t, "tocsin", filepath.Base(args[0]))
	require.Equal(t, "run", args[1])
	require.Equal(t, []string{"/etc/tocsin/cluster.env"}, u.get("Service", "EnvironmentFile"))
	require.Equal(t, []string{"/etc/tocsin/tocsin.yml"}, flagValues(args, "config.file"))

	envs, err := filepath.Glob("systemd/replica-*.env")
	require.NoError(t, err)
	require.Len(t, envs, 3)
	advertised := map[string]string{}
	peersOf := map[string][]string{}
	for _, path := range envs {
		env := readEnv(t, path)
		// ${VAR} in ExecStart is one word after expansion, as in systemd.
		var missing []string
		expanded := regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(strings.Join(args, " "), func(ref string) string {
			name := strings.Trim(ref, "${}")
			v, ok := env[name]
			if !ok {
				missing = append(missing, name)
			}
			return v
		})
		require.Empty(t, missing, "%s does not set what ExecStart uses", path)
		got := strings.Fields(expanded)
		require.Len(t, flagValues(got, "cluster.listen-address"), 1, path)
		adv := flagValues(got, "cluster.advertise-address")
		require.Len(t, adv, 1, path)
		advertised[path] = adv[0]
		peersOf[path] = flagValues(got, "cluster.peer")
	}
	// Each replica joins the other two.
	for path, peers := range peersOf {
		var others []string
		for p, a := range advertised {
			if p != path {
				others = append(others, a)
			}
		}
		require.ElementsMatch(t, others, peers, "%s: --cluster.peer must name the other replicas", path)
	}

	text, err := os.ReadFile("systemd/tocsin.yml")
	require.NoError(t, err)
	cfg := loadConfig(t, strings.ReplaceAll(string(text), "secrets/", "/etc/tocsin/secrets/"), "/etc/tocsin/secrets/")
	watchdogOnlyPings(t, cfg)
}
