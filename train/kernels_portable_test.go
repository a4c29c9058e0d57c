//go:build !amd64 || purego

package train

// simdKernels reports whether the kernel package's assembly runs the
// matrix products (the speed the smoke tier is sized for).
const simdKernels = false
