//go:build !linux

package wal

import (
	"errors"
	"os"
)

func dataSync(f *os.File) error { return f.Sync() }

func preallocate(*os.File, int64) error { return errors.ErrUnsupported }
