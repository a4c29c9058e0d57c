package e2e

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: every server
// is shut down and every client connection closed by then.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
