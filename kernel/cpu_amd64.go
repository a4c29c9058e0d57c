//go:build amd64 && !purego

package kernel

import "golang.org/x/sys/cpu"

// hasAVX2 gates every assembly kernel: AVX2 for the integer and float
// vectors, FMA, and F16C for fp16 scales and weights (all AVX2 CPUs have it;
// x/sys/cpu reports it anyway).
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
