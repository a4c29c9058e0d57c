package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
)

// metricsWriter appends a run's records to metrics.jsonl, one JSON object a
// line tagged with its type. JSON has no NaN or infinity, and a run that
// meets them is the one most worth reading afterwards, so a non-finite
// number is written as null instead of the record being lost.
type metricsWriter struct {
	w   io.Writer
	err error // the first write error; later records are dropped
}

// write appends rec, a struct whose fields carry json tags.
func (m *metricsWriter) write(typ string, rec any) error {
	if m.err != nil {
		return nil
	}
	obj := map[string]any{"type": typ}
	v := reflect.ValueOf(rec)
	for _, f := range reflect.VisibleFields(v.Type()) {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous || !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fv := v.FieldByIndex(f.Index)
		if opts == "omitempty" && fv.IsZero() {
			continue
		}
		val := fv.Interface()
		if x, ok := val.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
			val = nil
		}
		obj[name] = val
	}
	b, err := json.Marshal(obj)
	if err == nil {
		_, err = m.w.Write(append(b, '\n'))
	}
	if err != nil {
		m.err = fmt.Errorf("writing %s: %w", FileMetrics, err)
		return m.err
	}
	return nil
}
