package slack_test

import "github.com/prometheus/common/config"

func configsSecret(s string) config.Secret { return config.Secret(s) }
