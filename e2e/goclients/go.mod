module github.com/ssewasm/ssewasm/e2e/goclients

go 1.26

require (
	github.com/launchdarkly/eventsource v1.11.0
	github.com/tmaxmax/go-sse v0.12.0
)
