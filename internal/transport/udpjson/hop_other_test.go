//go:build !linux

package udpjson

import "errors"

func blockingEcho(func(int)) error { return errors.New("blocking echo needs Linux") }
