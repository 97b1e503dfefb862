// The OpenAI Go SDK's compatibility test, a module of its own so that neither the
// service's module graph nor its binary carries the SDK. scripts/openai-sdk/run.sh runs
// it against the built easel binary.
module github.com/easelhq/easel/scripts/openai-sdk/go

go 1.26.0

require github.com/openai/openai-go/v3 v3.102.0

require (
	github.com/coder/websocket v1.8.15 // indirect
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.1 // indirect
	github.com/tidwall/sjson v1.2.5 // indirect
)
