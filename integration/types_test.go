package integration

import specs "github.com/opencontainers/runtime-spec/specs-go"

type specsSpec = specs.Spec
