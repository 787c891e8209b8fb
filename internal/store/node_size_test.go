package store

import (
	"testing"
	"unsafe"
)

// TestNodeSize keeps a node in the 80-byte size class: one per key.
func TestNodeSize(t *testing.T) {
	if n := unsafe.Sizeof(node{}); n > 80 {
		t.Errorf("node is %d bytes, want at most 80 (reorder the fields)", n)
	}
}
