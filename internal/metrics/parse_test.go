package metrics

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A strict reader of the text format as this package writes it: HELP then
// TYPE then the samples of each family, families contiguous and sorted,
// series sorted, no duplicates, histogram buckets cumulative and ending in
// +Inf with _count equal to it. Escapes are undone, so tests compare the
// values callers passed.

type parsedFamily struct {
	help, typ string
	samples   []parsedSample
}

type parsedSample struct {
	name   string
	labels [][2]string // in written order
	value  float64
}

func (s parsedSample) label(name string) (string, bool) {
	for _, l := range s.labels {
		if l[0] == name {
			return l[1], true
		}
	}
	return "", false
}

func parseExposition(text string) (map[string]*parsedFamily, error) {
	fams := map[string]*parsedFamily{}
	if text == "" {
		return fams, nil
	}
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("output does not end in a line feed")
	}
	var order []string
	var cur *parsedFamily
	var curName string
	seenSeries := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		errf := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", i+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, help, ok := strings.Cut(line[len("# HELP "):], " ")
			if !ok || !validMetricName(name) {
				return nil, errf("bad HELP")
			}
			if fams[name] != nil {
				return nil, errf("family %s appears twice", name)
			}
			if len(order) > 0 && order[len(order)-1] >= name {
				return nil, errf("family %s not sorted after %s", name, order[len(order)-1])
			}
			h, err := unescape(help, false)
			if err != nil {
				return nil, errf("%v", err)
			}
			cur, curName = &parsedFamily{help: h}, name
			fams[name] = cur
			order = append(order, name)
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, ok := strings.Cut(line[len("# TYPE "):], " ")
			if !ok || cur == nil || name != curName || cur.typ != "" || len(cur.samples) > 0 {
				return nil, errf("TYPE out of place")
			}
			if !slices.Contains([]string{"counter", "gauge", "histogram"}, typ) {
				return nil, errf("unknown type %q", typ)
			}
			cur.typ = typ
		case strings.HasPrefix(line, "#"):
			return nil, errf("unexpected comment")
		default:
			if cur == nil || cur.typ == "" {
				return nil, errf("sample before HELP and TYPE")
			}
			s, err := parseSample(line)
			if err != nil {
				return nil, errf("%v", err)
			}
			if !sampleBelongs(s.name, curName, cur.typ) {
				return nil, errf("sample %s in family %s", s.name, curName)
			}
			key := s.name + fmt.Sprint(s.labels)
			if seenSeries[key] {
				return nil, errf("duplicate series")
			}
			seenSeries[key] = true
			cur.samples = append(cur.samples, s)
		}
	}
	for name, f := range fams {
		if len(f.samples) == 0 {
			return nil, fmt.Errorf("family %s has no samples", name)
		}
		if err := checkOrder(f); err != nil {
			return nil, fmt.Errorf("family %s: %v", name, err)
		}
		if f.typ == "histogram" {
			if err := checkHistogram(name, f); err != nil {
				return nil, fmt.Errorf("family %s: %v", name, err)
			}
		}
	}
	return fams, nil
}

func sampleBelongs(sample, family, typ string) bool {
	if typ != "histogram" {
		return sample == family
	}
	rest, ok := strings.CutPrefix(sample, family)
	return ok && (rest == "_bucket" || rest == "_sum" || rest == "_count")
}

// parseSample reads `name{a="x",b="y"} value`.
func parseSample(line string) (parsedSample, error) {
	var s parsedSample
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name, line = line[:end], line[end:]
	if !validMetricName(s.name) {
		return s, fmt.Errorf("bad metric name %q", s.name)
	}
	if strings.HasPrefix(line, "{") {
		line = line[1:]
		for {
			eq := strings.Index(line, `="`)
			if eq < 0 {
				return s, fmt.Errorf("bad label pair at %q", line)
			}
			name := line[:eq]
			if !validLabelName(name) && name != "le" {
				return s, fmt.Errorf("bad label name %q", name)
			}
			line = line[eq+2:]
			// The value ends at the first quote not escaped by a backslash.
			j := 0
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' {
					j++
				}
			}
			if j >= len(line) {
				return s, fmt.Errorf("unterminated label value")
			}
			v, err := unescape(line[:j], true)
			if err != nil {
				return s, err
			}
			if _, dup := s.label(name); dup {
				return s, fmt.Errorf("label %s twice", name)
			}
			s.labels = append(s.labels, [2]string{name, v})
			line = line[j+1:]
			if strings.HasPrefix(line, ",") {
				line = line[1:]
				continue
			}
			if !strings.HasPrefix(line, "}") {
				return s, fmt.Errorf("expected , or } at %q", line)
			}
			line = line[1:]
			break
		}
	}
	v, ok := strings.CutPrefix(line, " ")
	if !ok || strings.Contains(v, " ") {
		return s, fmt.Errorf("expected one space and a value, got %q", line)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return s, fmt.Errorf("bad value: %v", err)
	}
	if math.IsInf(f, 0) && v != "+Inf" && v != "-Inf" || math.IsNaN(f) && v != "NaN" {
		return s, fmt.Errorf("value %q not in canonical form", v)
	}
	s.value = f
	return s, nil
}

// unescape undoes \\ and \n (HELP) or \\, \" and \n (label values); any
// other backslash sequence or a raw quote in a label value is an error.
func unescape(s string, label bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' && label {
			return "", fmt.Errorf("raw quote in label value")
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		switch {
		case i == len(s):
			return "", fmt.Errorf("trailing backslash")
		case s[i] == '\\':
			b.WriteByte('\\')
		case s[i] == 'n':
			b.WriteByte('\n')
		case s[i] == '"' && label:
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("bad escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

// checkOrder checks that series are sorted by their label values (the le
// label and the histogram suffixes excepted: they follow bucket order).
func checkOrder(f *parsedFamily) error {
	var prev []string
	for _, s := range f.samples {
		var vals []string
		for _, l := range s.labels {
			if l[0] != "le" {
				vals = append(vals, l[1])
			}
		}
		if prev != nil && slices.Compare(prev, vals) > 0 {
			return fmt.Errorf("series %v after %v", vals, prev)
		}
		prev = vals
	}
	return nil
}

func checkHistogram(name string, f *parsedFamily) error {
	type state struct {
		lastLe, lastCum float64
		inf             bool
		sum, count      bool
	}
	series := map[string]*state{}
	for _, s := range f.samples {
		var key []string
		for _, l := range s.labels {
			if l[0] != "le" {
				key = append(key, l[0]+"="+l[1])
			}
		}
		k := strings.Join(key, ",")
		st := series[k]
		if st == nil {
			st = &state{lastLe: math.Inf(-1)}
			series[k] = st
		}
		switch s.name {
		case name + "_bucket":
			leText, ok := s.label("le")
			if !ok || st.inf || st.sum || st.count {
				return fmt.Errorf("bucket %v out of place", s.labels)
			}
			le, err := strconv.ParseFloat(leText, 64)
			if err != nil || le <= st.lastLe || s.value < st.lastCum {
				return fmt.Errorf("bucket le=%s count %g after le=%g count %g", leText, s.value, st.lastLe, st.lastCum)
			}
			st.lastLe, st.lastCum, st.inf = le, s.value, math.IsInf(le, +1)
		case name + "_sum":
			if !st.inf || st.sum || st.count {
				return fmt.Errorf("_sum out of place")
			}
			st.sum = true
		case name + "_count":
			if !st.sum || st.count {
				return fmt.Errorf("_count out of place")
			}
			if s.value != st.lastCum {
				return fmt.Errorf("_count %g, +Inf bucket %g", s.value, st.lastCum)
			}
			st.count = true
		}
	}
	for k, st := range series {
		if !st.count {
			return fmt.Errorf("series {%s} incomplete", k)
		}
	}
	return nil
}
