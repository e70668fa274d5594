# `sam build` runs `make build-<LogicalId> ARTIFACTS_DIR=...` for every function (each is
# `BuildMethod: makefile` in template.yaml). All of them are built by one cargo invocation
# (scripts/build-functions, in the profile $FUNCTIONS_PROFILE, `release` unless set); each
# target then copies its function's binary as `bootstrap`.
build-%:
	scripts/build-functions --copy $* "$(ARTIFACTS_DIR)"
