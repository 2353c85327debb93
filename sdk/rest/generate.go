// Package rest is the generated, typed REST client of the Panguard Auth API (from
// openapi.yaml by oapi-codegen). Most programs want the friendlier facade in package sdk.
package rest

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../openapi.yaml
