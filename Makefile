# The two commands of the README, and a few more for developers.
.PHONY: demo test lint check fmt package system-deps

# Run the whole pipeline on the embedded local stack (moto, DuckDB, dbt, dashboards preview).
demo: system-deps
	./pants run local:grandprix -- local run $(ARGS)

# Run every test of every part.
test: system-deps
	./pants test ::

lint:
	./pants lint ::

check:
	./pants check ::

fmt:
	./pants fix fmt ::

# Build the four Lambda packages into dist/ and check their sizes against their budgets.
package:
	./pants package services/scheduler:lambda services/ingestion:lambda services/loader:lambda services/transformer:lambda
	tools/package-report dist/services.scheduler/lambda.zip dist/services.ingestion/lambda.zip dist/services.loader/lambda.zip dist/services.transformer/lambda.zip

system-deps:
	@tools/install-system-deps
