# hecd as a container image: one static binary on an empty base.
#
# Build the binary on the host first, then the image:
#
#   CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o hecd ./cmd/hecd
#   docker build -t hecd .
#
# The binary is built outside Docker on purpose: a multi-stage build would
# have to pull a golang image, and hecd is also built and tested on machines
# with no registry access. CGO_ENABLED=0 makes it static (Go's own DNS
# resolver, no libc), which is what lets it run on scratch. .dockerignore
# sends only that binary as the build context.
#
# Run it (see docker-compose.yml for the whole set-up):
#
#   docker run -d -p 8000:8000 -v hecd-data:/data \
#     -v /var/run/docker.sock:/var/run/docker.sock:ro \
#     --group-add "$(stat -c %g /var/run/docker.sock)" \
#     hecd up -internal -network NET
#
# "up" runs the store, the router and, when the Docker socket answers, the
# registrator. In a container the registrator cannot guess the host's
# address for published ports, so either register container addresses on
# a network the hecd container shares with the apps (-internal -network
# NET, as above), or pass the host's address with -ip.

# An empty /data owned by the runtime user: scratch has no shell to mkdir
# or chown, and a WORKDIR would be owned by root.
FROM scratch AS datadir
WORKDIR /data

FROM scratch
COPY hecd /hecd
COPY --from=datadir --chown=65532:65532 /data /data

# Any unprivileged uid works; 65532 is the usual "nonroot" of distroless
# images. Reading the Docker socket needs its group (--group-add above).
USER 65532:65532

# The store keeps its data in ./hecd.data (hecd up's default), so in the
# volume. A named volume starts as a copy of /data and is owned by 65532.
WORKDIR /data
VOLUME ["/data"]

# The registrator must never route to hecd itself: with -internal every
# exposed port below would otherwise become a route to this container.
LABEL hecd.ignore="true"

# 8000: the router (-listen). 2379 and 4001: the store's client URLs, and
# 8404 the stats page if -stats-listen is set; inside the container the
# store listens on localhost unless -listen-client-urls says otherwise, so
# publishing 2379/4001 needs e.g. -listen-client-urls http://0.0.0.0:2379.
EXPOSE 8000 2379 4001 8404

ENTRYPOINT ["/hecd"]
CMD ["up"]
