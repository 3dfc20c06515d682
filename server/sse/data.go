package sse

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidData: the published event's Data contains NUL. Browsers
// disagree on NUL in data (Firefox drops it, Chromium keeps it, as the
// spec says), so the broker refuses it rather than have clients see
// different data. Returned by [Broker.Publish] and [Broker.PublishLocal].
var ErrInvalidData = errors.New("sse: invalid event data")

// checkData refuses data that not every client would receive unchanged.
func checkData(data string) error {
	if i := strings.IndexByte(data, 0); i >= 0 {
		return fmt.Errorf("%w: NUL at byte %d; Firefox drops NUL from data while other clients keep it, so encode binary data (for example as base64) before sending", ErrInvalidData, i)
	}
	return nil
}
