# BUILD-file prelude ([GLOBAL].build_file_prelude_globs): the one shape of a package's sources and of a service's
# deployable.
#
# A Python package's BUILD declares its sources, conftest and tests with `package_sources("<package>", resolve)`,
# a service's with `service_sources("<package>")`.
# A service's BUILD declares its Lambda package with one call, e.g.
#     service_lambda(handler="ingestion/handler.py:handler", package="image")
# `package` is how it ships (the Pulumi stack's `functions.<service>.packageType` must agree):
# - "zip":   a zip for AWS's python3.11 managed runtime (Amazon Linux 2, glibc 2.26), so only wheels that
#            load there; Lambda caps zips at 250 MiB unpacked.
# - "image": the zip's content in a container image built from build-support/lambda.Dockerfile on Debian 12
#            (python:3.11-slim-bookworm, glibc 2.36) with the Lambda runtime interface client as entrypoint.
# `exclude` names requirements the sources import only where this package never runs (a type-only import,
# a local-only branch); the package tests run each package without them, as Lambda runs it.
# `resolve` is the lockfile the package's requirements come from: "services", or "analytics" for the
# transformer, which runs dbt (dbt-core and dbt-snowflake are locked there, with the dbt project's runner).
# `collisions_ok`: the requirements ship files at the same path with different content (dbt-core and every dbt
# adapter each ship their own `dbt/__init__.py`, the same pkgutil namespace declaration). Pants 2.17's
# python_awslambda refuses them (`pex3 venv create` without `--collisions-ok`; the field that passes it came
# with Pants 2.18), so the same flat zip is made in three steps: a PEX of the same dependencies for the same
# platform, its `venv` tool with `--collisions-ok` (one of the identical declarations wins), and an archive of
# its site-packages with the `lambda_function.handler` re-export python_awslambda writes.

# (Prelude globals must be hashable: pairs, not a dict.)
_PLATFORMS = (
    ("zip", "3rdparty/platforms:lambda-py311-al2"),
    ("image", "3rdparty/platforms:lambda-py311-bookworm"),
)
# Type stubs are dependencies for mypy only.
_NEVER_DEPLOYED = ("boto3-stubs", "pandas-stubs")
# What the PEX's venv tool needs in the shell_command's sandbox (bash and coreutils: a pyenv shim runs python3.11).
_VENV_TOOLS = ("bash", "python3.11", "mkdir", "cp", "head", "readlink", "dirname", "basename", "cat", "sed",
               "grep", "cut", "tr", "ls", "sort", "uname", "env", "rm", "ln")


def service_lambda(handler, package, exclude=(), name="lambda", resolve="services", collisions_ok=False, lib=":lib",
                   **kwargs):
    platforms = dict(_PLATFORMS)
    if package not in platforms:
        raise ValueError(f"service_lambda(package=...) must be one of {sorted(platforms)}, got {package!r}")
    if resolve not in ("services", "analytics"):
        raise ValueError(f"service_lambda(resolve=...) must be 'services' or 'analytics', got {resolve!r}")
    dependencies = [f"!!3rdparty/python:{resolve}#{req}" for req in (*_NEVER_DEPLOYED, *exclude)]
    if package == "image":
        # The image's entrypoint (`python3 -m awslambdaric`) ships inside the package, not in the base image.
        dependencies.append(f"3rdparty/python:{resolve}#awslambdaric")
    tags = [f"lambda-package:{package}"]
    if not collisions_ok:
        python_awslambda(
            name=name,
            handler=handler,
            complete_platforms=[platforms[package]],
            dependencies=dependencies,
            resolve=resolve,
            tags=tags,
            **kwargs,
        )
        return
    path, _, function = handler.partition(":")
    module = path.removesuffix(".py").replace("/", ".")
    pex = f"{name}-pex"
    pex_binary(
        name=pex,
        dependencies=[lib, *dependencies],  # the handler's sources (a PEX has no handler field to infer them from)
        complete_platforms=[platforms[package]],
        resolve=resolve,
        include_tools=True,
        tags=tags,
    )
    pex_path = f"../../{build_file_dir().as_posix().replace('/', '.')}/{pex}.pex"
    shell_command(
        name=f"{name}-site-packages",
        command=(
            f"PEX_TOOLS=1 python3.11 {pex_path} venv --collisions-ok venv > /dev/null"
            " && mkdir site-packages && cp -RL venv/lib/python3.11/site-packages/. site-packages/"
            f" && echo 'from {module} import {function} as handler' > site-packages/lambda_function.py"
        ),
        tools=list(_VENV_TOOLS),
        execution_dependencies=[f":{pex}"],
        output_directories=["site-packages"],
        root_output_directory="./site-packages",
        timeout=900,
        tags=tags,
    )
    archive(name=name, format="zip", files=[f":{name}-site-packages"], tags=tags, **kwargs)


def package_sources(package, resolve, lib_resolve=None, dependencies=(), test_dependencies=(), **test_kwargs):
    """A Python package's `:lib` (every module of `package/` but tests and conftest, in `lib_resolve` if given),
    `:test_utils` (its conftest) and `:tests` (`test_kwargs`: more python_tests fields, e.g. timeout)."""
    python_sources(
        name="lib",
        sources=[f"{package}/**/*.py", f"!{package}/**/*_test.py", f"!{package}/**/conftest.py"],
        resolve=lib_resolve or resolve,
        dependencies=list(dependencies),
    )
    python_test_utils(name="test_utils", sources=[f"{package}/**/conftest.py"], resolve=resolve)
    python_tests(
        name="tests",
        sources=[f"{package}/**/*_test.py"],
        resolve=resolve,
        dependencies=list(test_dependencies),
        **test_kwargs,
    )


def service_sources(package):
    """A service's Python (package_sources): its `:lib` also in "analytics" (the local stack and end-to-end tests
    run the services in-process)."""
    package_sources(package, resolve="services", lib_resolve=parametrize("services", "analytics"))
