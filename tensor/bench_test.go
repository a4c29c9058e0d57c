package tensor

import (
	"math/rand"
	"testing"
)

const benchN = 4096 // elements per row, about a 0.5–1.5B model's width

// BenchmarkVecDot measures one row · activation dot product; bytes/s counts
// the weight row, the stream a matvec is bound by.
func BenchmarkVecDot(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, typ := range kernelTypes {
		b.Run(typ.String(), func(b *testing.B) {
			w := quantize(b, typ, randNormal(r, benchN, 0.02))
			a := make([]byte, rowBytes(typ.VecDotType(), benchN))
			QuantizeActivations(typ.VecDotType(), a, randNormal(r, benchN, 1))
			b.SetBytes(int64(len(w)))
			b.ReportAllocs()
			var sink float32
			for b.Loop() {
				sink += VecDot(typ, benchN, w, a)
			}
			_ = sink
		})
	}
}

func BenchmarkDequantize(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	for _, typ := range kernelTypes {
		b.Run(typ.String(), func(b *testing.B) {
			q := quantize(b, typ, randNormal(r, benchN, 1))
			y := make([]float32, benchN)
			b.SetBytes(int64(len(q)))
			b.ReportAllocs()
			for b.Loop() {
				Dequantize(typ, y, q)
			}
		})
	}
}

func BenchmarkQuantizeActivations(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	x := randNormal(r, benchN, 1)
	for _, typ := range []Type{F16, Q8_0, Q8_1, Q8_K} {
		b.Run(typ.String(), func(b *testing.B) {
			q := make([]byte, rowBytes(typ, benchN))
			b.SetBytes(4 * benchN)
			b.ReportAllocs()
			for b.Loop() {
				QuantizeActivations(typ, q, x)
			}
		})
	}
}
