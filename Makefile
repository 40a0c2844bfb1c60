# The short names people type. Experiments run against the local Docker
# engine; -count=1 because a cached experiment result is not a measurement.

PEERS    ?= 100
DURATION ?= 30s
GO       ?= go

BASE     ?= origin/main
HEAD     ?=
RUNS     ?= 5

.PHONY: test star bench baseline gate image vet clean swarm-up swarm-down swarm-test swarm-star

SWARM_ENGINES ?= 3

# The whole suite, with the race detector: unit tests and small meshes (<= 31 peers, and one 100-peer bring-up cut short by its deadline).
test:
	$(GO) test -p 1 -race -count=1 -timeout 50m ./...

# The main job: a 100-peer star with its artifacts kept under ./results.
star:
	mkdir -p results
	$(GO) test ./experiments_test -run '^TestStar$$' -peers=$(PEERS) -duration=$(DURATION) -floor \
		-count=1 -timeout 30m -v -artifacts -outputdir $(CURDIR)/results

bench:
	$(GO) test ./experiments_test -run '^$$' -bench Star -benchtime 1x -count=1 -timeout 60m

# Re-records testdata/baseline/star-10.json from three runs on this machine:
# after a deliberate change of the node's cost, or on a new kind of machine.
baseline:
	$(GO) test ./experiments_test -run '^TestRegression$$' -peers=10 -count=3 -update-baseline -v -timeout 30m

# The A/B gate: the bundled node at BASE (a git revision, or a spec .json)
# against HEAD (default: the working tree), RUNS runs each, alternated on
# this engine; fails on a significant regression. Fetch BASE first.
gate:
	$(GO) test ./experiments_test -run '^TestGate$$' -base=$(BASE) -head=$(HEAD) -ab-runs=$(RUNS) \
		-count=1 -v -timeout 60m

# A Docker Swarm of SWARM_ENGINES engines on this machine, each a dockerd in
# its own network namespace (root; the host's engine stays out of swarm
# mode), and its removal, which leaves the host as it found it.
swarm-up:
	scripts/swarm.sh up $(SWARM_ENGINES)

swarm-down:
	scripts/swarm.sh down

# The swarm backend's tests against the swarm swarm-up made.
swarm-test:
	MESHTEST_SWARM=/run/mtswarm/engines MESHTEST_REQUIRE_SWARM=1 $(GO) test ./meshtest/backend/docker -run Swarm -count=1 -v -timeout 10m
	MESHTEST_SWARM=/run/mtswarm/engines MESHTEST_REQUIRE_SWARM=1 $(GO) test ./meshtest -run '^TestInterruptRemovesSwarmMesh$$' -count=1 -v -timeout 10m

# The seed's experiment on the swarm swarm-up made.
swarm-star:
	$(GO) test ./experiments_test -run '^TestStar$$' -peers=50 -backend=swarm -swarm=/run/mtswarm/engines -results=results-swarm -count=1 -v -timeout 20m

# The bundled node's image by hand (the fixture builds it itself when needed).
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o node/meshnode ./node/cmd/meshnode
	docker build -t meshtest-node:dev node
	rm -f node/meshnode

vet:
	gofmt -l .
	$(GO) vet ./...

# Removes results and every meshtest-node image (the fixture rebuilds it).
clean:
	rm -rf results experiments_test/results
	docker images -q meshtest-node | xargs -r docker rmi -f
