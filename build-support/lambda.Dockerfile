# The container image of a service shipped as `service_lambda(package="image")` (build-support/lambda.py).
# Build context: the directory holding the service's Pants package, `dist/services.<service>/lambda.zip`.
# The AWS stack builds it with pulumi-docker-build; tests/lambda_packages builds it from the same file on a local base.
#
# BASE_IMAGE must be CPython 3.11 on Debian 12 (glibc 2.36), the platform the package's wheels were chosen for
# (3rdparty/platforms/lambda-py311-bookworm.json).
ARG BASE_IMAGE=public.ecr.aws/docker/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS unpack
COPY lambda.zip /tmp/lambda.zip
# Bytecode compiled once here: /var/task is read-only in Lambda, so otherwise every cold start compiles.
RUN python3 -m zipfile -e /tmp/lambda.zip /var/task \
 && python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash /var/task

FROM ${BASE_IMAGE}
COPY --from=unpack /var/task /var/task
WORKDIR /var/task
ENV LAMBDA_TASK_ROOT=/var/task PYTHONDONTWRITEBYTECODE=1
# The runtime interface client ships in the package; the handler is the function's ImageConfig command.
ENTRYPOINT ["python3", "-m", "awslambdaric"]
CMD ["lambda_function.handler"]
