package main

import _ "embed"

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../openapi.yaml
//go:generate cp ../openapi.yaml openapi.gen.yaml

// openapiYAML is the contract exactly as written (go:embed cannot reach ../openapi.yaml, so
// `make generate` keeps this copy, and CI fails when it is stale).
//
//go:embed openapi.gen.yaml
var openapiYAML []byte
