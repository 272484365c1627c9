"""The DynamoDB race calendar: sessions keyed by `pk`, plus TTL-expired idempotency records."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from f1common.names import CALENDAR_KEY, CALENDAR_TTL_ATTRIBUTE


@dataclass(frozen=True)
class CalendarTableArgs:
    table_name: str
    deletion_protection: bool = False


class CalendarTable(pulumi.ComponentResource):
    table: aws.dynamodb.Table

    def __init__(self, name: str, args: CalendarTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:CalendarTable", name, None, opts)
        self.table = aws.dynamodb.Table(
            name,
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=CALENDAR_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=CALENDAR_KEY, type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=CALENDAR_TTL_ATTRIBUTE, enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=args.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.table.name, "arn": self.table.arn})
