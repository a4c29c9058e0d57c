package quantize

import (
	"fmt"

	"zhiyan/gguf"
	"zhiyan/tensor"
)

// Options control a conversion.
type Options struct {
	Pure bool // every matrix gets the file type's base type
	// Progress, if set, is called with the bytes of input processed so far.
	Progress func(done, total int64)
}

// Convert requantizes every weight matrix of in to ft and writes the new
// file to outPath (atomically). Metadata is copied; general.file_type and
// general.quantization_version are set.
func Convert(in *gguf.File, outPath string, ft FileType, o Options) error {
	w := gguf.NewWriter()
	// Copying general.alignment, when present, also sets the writer's
	// alignment; without it both files use the default.
	for _, kv := range in.KVs {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return fmt.Errorf("copying %s: %w", kv.Key, err)
		}
	}
	if err := w.Set("general.file_type", ft.ID); err != nil {
		return err
	}
	if err := w.Set("general.quantization_version", uint32(2)); err != nil {
		return err
	}
	p := newPlan(in, ft, o.Pure)
	var total, done int64
	for i := range in.Tensors {
		total += int64(in.Tensors[i].Size)
	}
	for i := range in.Tensors {
		ti := &in.Tensors[i]
		src, err := in.TensorData(ti.Name)
		if err != nil {
			return err
		}
		to := p.typeFor(ti)
		data := src
		if to != ti.Type {
			if data, err = convertTensor(ti, src, to); err != nil {
				return fmt.Errorf("tensor %s: %w", ti.Name, err)
			}
		}
		if err := w.AddTensor(ti.Name, to, ti.Dims, data); err != nil {
			return fmt.Errorf("tensor %s: %w", ti.Name, err)
		}
		done += int64(ti.Size)
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	return w.WriteFile(outPath)
}

// convertTensor decodes a tensor row by row and encodes it in type to.
func convertTensor(ti *gguf.TensorInfo, src []byte, to tensor.Type) ([]byte, error) {
	if !ti.Type.HasKernels() {
		return nil, fmt.Errorf("cannot decode type %s", ti.Type)
	}
	n := int(ti.Dims[0])
	rows := int(ti.Rows())
	inRow, err := ti.Type.RowBytes(n)
	if err != nil {
		return nil, err
	}
	outRow, err := to.RowBytes(n)
	if err != nil {
		return nil, err
	}
	out := make([]byte, rows*outRow)
	row := make([]float32, n)
	for r := range rows {
		tensor.Dequantize(ti.Type, row, src[r*inRow:(r+1)*inRow])
		if err := tensor.Quantize(to, out[r*outRow:(r+1)*outRow], row); err != nil {
			return nil, err
		}
	}
	return out, nil
}
