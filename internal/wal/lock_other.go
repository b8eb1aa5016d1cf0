//go:build !unix

package wal

import "os"

// lockFile is a no-op where flock does not exist; one process per data
// directory is then the operator's responsibility.
func lockFile(*os.File) error { return nil }
