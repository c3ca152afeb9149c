package ui_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/examples/particle/scenario"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, scenario.IgnoredLeaks()...)
}
