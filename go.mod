module github.com/raftkv/raftkv

go 1.26.0

require (
	github.com/anishathalye/porcupine v1.3.1 // indirect
	github.com/google/btree v1.1.3 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
)
