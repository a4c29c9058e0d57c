//go:build !amd64 || purego

package kernel

// Without assembly the exp-based kernels are the portable loops.

func swigluF32(gate, up []float32)                    { swigluF32Go(gate, up) }
func scaleMaxF32(x []float32, scale float32) float32  { return scaleMaxF32Go(x, scale) }
func softmaxExpF32(x []float32, maxv float32) float64 { return softmaxExpF32Go(x, maxv) }
func scaleF32(x []float32, s float32)                 { scaleF32Go(x, s) }
