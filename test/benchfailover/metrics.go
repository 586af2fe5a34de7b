package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// metrics is one scrape of a node's /metrics: every sample by its series
// ("name{labels}" as exposed).
type metrics map[string]float64

// sum adds up every series of the metric name, whatever its labels.
func (m metrics) sum(name string) float64 {
	var total float64
	for series, v := range m {
		if metricName(series) == name {
			total += v
		}
	}
	return total
}

// sumLabel adds up the series of name whose labels include label (such as
// `result="failed"`).
func (m metrics) sumLabel(name, label string) float64 {
	var total float64
	for series, v := range m {
		if metricName(series) == name && strings.Contains(series, label) {
			total += v
		}
	}
	return total
}

func metricName(series string) string {
	name, _, _ := strings.Cut(series, "{")
	return name
}

// parseMetrics reads the Prometheus text format; comments and lines it
// cannot read are skipped.
func parseMetrics(text string) metrics {
	m := metrics{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Label values may hold spaces; the value follows the last one
		// (no timestamps in Go client output).
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m
}

// scrape fetches a node's /metrics.
func scrape(ctx context.Context, httpAddr string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", httpAddr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", httpAddr, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", httpAddr, err)
	}
	return parseMetrics(string(body)), nil
}

// scrapeAll scrapes every running node; a node that cannot be scraped is
// left out.
func (b *benchCluster) scrapeAll(ctx context.Context) map[string]metrics {
	out := map[string]metrics{}
	for _, n := range b.c.Running() {
		if m, err := scrape(ctx, b.httpAddr(n)); err == nil {
			out[n] = m
		}
	}
	return out
}

// delta is how much name (summed over its series) grew on the nodes
// scraped both times.
func delta(before, after map[string]metrics, name string) float64 {
	var d float64
	for n, a := range after {
		if b, ok := before[n]; ok {
			d += a.sum(name) - b.sum(name)
		}
	}
	return d
}
