# syntax=docker/dockerfile:1
#
# Easel's container image (the Fargate option; docs/access.md#the-container): a static
# binary on distroless static, run as the nonroot user (65532), no shell, the entrypoint
# `easel serve`. Configuration comes from EASEL_* variables (docs/configuration.md).
# cmd/easel/container_test.go checks this file and builds the same binary with the
# same flags, so CI needs no Docker daemon.
#
# Base images are pinned by digest, the tag beside it saying what the image is; refresh
# both together (docker buildx imagetools inspect IMAGE:TAG).

FROM --platform=$BUILDPLATFORM golang:1.26-alpine@sha256:7a3e50096189ad57c9f9f865e7e4aa8585ed1585248513dc5cda498e2f41812c AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The target platform (docker build --platform; BuildKit sets these): the build stage
# runs on the building machine and cross-compiles. Fargate runs linux/arm64.
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/easel ./cmd/easel
# The data folder, owned by the nonroot user: the runtime image has no shell to make it.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/easel /easel
COPY --from=build --chown=65532:65532 /out/data /var/lib/easel
ENV EASEL_DATA=/var/lib/easel \
    EASEL_ADDR=0.0.0.0:8080 \
    EASEL_LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/easel", "serve"]
