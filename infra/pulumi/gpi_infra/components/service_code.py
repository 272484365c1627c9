"""A service's code as Lambda takes it: the Pants zip, or a container image the stack builds from that zip.

An image service gets its own ECR repository (scan on push, immutable tags, a lifecycle that keeps the last
images) and the image is built from build-support/lambda.Dockerfile with the package's directory as the build
context, pushed with the repository's credentials and used by digest, so a function never runs an image
that changed under its tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from gpi_infra.packages import ServicePackage

LAMBDA_ARCHITECTURE = "x86_64"  # the packages' wheels are x86_64 (3rdparty/platforms)
RUNTIME = "python3.11"  # zip packages: AWS's managed runtime (Amazon Linux 2)


@dataclass(frozen=True)
class FunctionCode:
    """The code arguments of an `aws.lambda_.Function`."""

    package_type: str
    arguments: dict[str, Any]


def zip_code(package: ServicePackage, handler: str) -> FunctionCode:
    return FunctionCode(
        "Zip",
        {"runtime": RUNTIME, "handler": handler, "code": pulumi.FileArchive(str(package.zip_path))},
    )


def lifecycle_policy(keep: int) -> str:
    """Untagged images (superseded pushes) go after a day; of the tagged ones the last `keep` stay."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Drop untagged images after a day",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the last {keep} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class ContainerImageArgs:
    repository_name: str
    package: ServicePackage
    base_image: str
    keep_images: int = 10
    force_delete: bool = False  # non-prod stages may delete the repository with its images


class ContainerImage(pulumi.ComponentResource):
    """ECR repository -> image built from the Pants package -> `image_uri` by digest."""

    repository: aws.ecr.Repository
    image: docker_build.Image
    image_uri: pulumi.Output[str]

    def __init__(self, name: str, args: ContainerImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:ContainerImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.package.dockerfile is None:
            raise ValueError(f"{args.package.service} is not an image package")
        self.repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")],
            force_delete=args.force_delete,
            opts=child,
        )
        self.lifecycle = aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(args.keep_images),
            opts=child,
        )
        auth = aws.ecr.get_authorization_token_output(registry_id=self.repository.registry_id)
        registry = self.repository.repository_url.apply(lambda url: url.split("/", 1)[0])
        self.image = docker_build.Image(
            f"{name}-image",
            context=docker_build.BuildContextArgs(location=str(args.package.zip_path.parent)),
            dockerfile=docker_build.DockerfileArgs(location=str(args.package.dockerfile)),
            build_args={"BASE_IMAGE": args.base_image},
            platforms=[docker_build.Platform.LINUX_AMD64],
            tags=[self.repository.repository_url.apply(lambda url: f"{url}:{args.package.image_tag}")],
            # One plain Docker v2 manifest: Lambda refuses image indexes (OCI media types with attestations).
            push=False,
            exports=[docker_build.ExportArgs(registry=docker_build.ExportRegistryArgs(oci_media_types=False))],
            registries=[docker_build.RegistryArgs(address=registry, username=auth.user_name, password=auth.password)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.lifecycle]),
        )
        # Lambda takes `repo@sha256:...` or `repo:tag`, not the `repo:tag@sha256:...` of the image's `ref`.
        self.image_uri = pulumi.Output.concat(self.repository.repository_url, "@", self.image.digest)
        self.register_outputs({"repository": self.repository.repository_url, "image_uri": self.image_uri})

    def code(self, handler: str) -> FunctionCode:
        return FunctionCode(
            "Image",
            {"image_uri": self.image_uri, "image_config": aws.lambda_.FunctionImageConfigArgs(commands=[handler])},
        )
