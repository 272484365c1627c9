# BUILD-file prelude ([GLOBAL].build_file_prelude_globs): the one shape of a service's deployable.
#
# A service's BUILD declares its Lambda package with one call, e.g.
#     service_lambda(handler="ingestion/handler.py:handler", package="image")
# `package` is how it ships (the Pulumi stack's `functions.<service>.packageType` must agree):
# - "zip":   a zip for AWS's python3.11 managed runtime (Amazon Linux 2, glibc 2.26), so only wheels that
#            load there; Lambda caps zips at 250 MiB unpacked.
# - "image": the zip's content in a container image built from build-support/lambda.Dockerfile on Debian 12
#            (python:3.11-slim-bookworm, glibc 2.36) with the Lambda runtime interface client as entrypoint.
# `exclude` names requirements the sources import only where this package never runs (a type-only import,
# a local-only branch); the package tests run each package without them, as Lambda runs it.

# (Prelude globals must be hashable: pairs, not a dict.)
_PLATFORMS = (
    ("zip", "3rdparty/platforms:lambda-py311-al2"),
    ("image", "3rdparty/platforms:lambda-py311-bookworm"),
)
# Type stubs are dependencies for mypy only.
_NEVER_DEPLOYED = ("boto3-stubs", "pandas-stubs")


def service_lambda(handler, package, exclude=(), name="lambda", **kwargs):
    platforms = dict(_PLATFORMS)
    if package not in platforms:
        raise ValueError(f"service_lambda(package=...) must be one of {sorted(platforms)}, got {package!r}")
    dependencies = [f"!!3rdparty/python:services#{req}" for req in (*_NEVER_DEPLOYED, *exclude)]
    if package == "image":
        # The image's entrypoint (`python3 -m awslambdaric`) ships inside the package, not in the base image.
        dependencies.append("3rdparty/python:services#awslambdaric")
    python_awslambda(
        name=name,
        handler=handler,
        complete_platforms=[platforms[package]],
        dependencies=dependencies,
        resolve="services",
        tags=[f"lambda-package:{package}"],
        **kwargs,
    )
