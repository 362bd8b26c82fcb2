"""`overcast billing ...`: the operator's side of billing, on this cloud's database as an admin.

Every command goes through BillingAPI (the same checks as /billing/v1) and prints JSON, except
`invoice export`, which writes the document (HTML, PDF, CSV, JSON) to a file or stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from overcast.config import Settings


def add_commands(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    billing = commands.add_parser(
        "billing", help="price lists, billing accounts, invoices, payments", parents=[common]
    )
    groups = billing.add_subparsers(dest="billing_group", required=True)

    def command(group: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help, parents=[common])
        sub.set_defaults(handler="billing", billing_command=name)
        return sub

    def group(name: str, help: str) -> argparse._SubParsersAction:
        sub = groups.add_parser(name, help=help, parents=[common])
        return sub.add_subparsers(dest="billing_action", required=True)

    price_lists = group("price-list", "named, versioned price lists")
    create = command(price_lists, "create", "a price list, or its next version, from a JSON file")
    create.add_argument("file", help='JSON: {"name", "currency", "effective_from", "rates", "free_tiers"}')
    listing = command(price_lists, "list", "every version of every price list")
    listing.add_argument("--name")

    accounts = group("account", "billing accounts and the projects they pay for")
    create = command(accounts, "create", "a billing account")
    create.add_argument("--name", required=True)
    create.add_argument("--currency", required=True)
    create.add_argument("--price-list", required=True)
    create.add_argument("--mode", choices=("prepaid", "postpaid"), default="postpaid")
    create.add_argument("--credit-limit", help="how far below zero the balance may go (none: no limit)")
    create.add_argument("--email", help="where budget alerts go")
    command(accounts, "list", "every billing account")
    show = command(accounts, "show", "an account and its balance")
    show.add_argument("account")
    update = command(accounts, "set", "change an account's terms")
    update.add_argument("account")
    update.add_argument("--price-list")
    update.add_argument("--credit-limit", help="a decimal, or 'none'")
    update.add_argument("--budget", help="a decimal per period, or 'none'")
    update.add_argument("--email")
    add = command(accounts, "add-project", "bill a project to the account")
    add.add_argument("account")
    add.add_argument("project")
    add.add_argument("--price-list", help="the project's own price list (default: the account's)")
    remove = command(accounts, "remove-project", "stop billing a project to the account")
    remove.add_argument("account")
    remove.add_argument("project")

    invoices = group("invoice", "invoices: generate, issue, pay, void, export")
    generate = command(
        invoices, "generate", "draft (or re-rate the draft of) each account's invoice of a period"
    )
    generate.add_argument(
        "--period", required=True, help="the period's first instant, e.g. 2031-01-01T00:00:00Z"
    )
    generate.add_argument("--account")
    listing = command(invoices, "list", "invoices")
    listing.add_argument("--account")
    listing.add_argument("--status", choices=("draft", "issued", "paid", "void"))
    show = command(invoices, "show", "an invoice and its lines")
    show.add_argument("invoice")
    for action in ("issue", "pay", "void"):
        moved = command(invoices, action, f"{action} an invoice")
        moved.add_argument("invoice")
        if action == "pay":
            moved.add_argument("--reference", help="the payment's reference (default: the invoice id)")
    export = command(invoices, "export", "an invoice as a document")
    export.add_argument("invoice")
    export.add_argument(
        "--format", dest="document_format", choices=("html", "pdf", "csv", "json"), default="pdf"
    )
    export.add_argument("--output", help="file to write (default: stdout)")

    payments = group("payment", "payments received")
    record = command(payments, "record", "record a payment (the reference makes it count once)")
    record.add_argument("--account", required=True)
    record.add_argument("--amount", required=True)
    record.add_argument("--currency", required=True)
    record.add_argument("--reference", required=True)
    listing = command(payments, "list", "an account's payments")
    listing.add_argument("--account", required=True)

    usage = command(groups, "usage", "a project's usage rated at its prices")
    usage.add_argument("--project", required=True)
    usage.add_argument("--start", help="default: the start of the current period")
    usage.add_argument("--end", help="default: now")


def _optional(value: str | None) -> str | None:
    return None if value is None or value.lower() == "none" else value


def _dispatch(api: Any, ctxt: Any, args: argparse.Namespace) -> Any:
    group, name = args.billing_group, args.billing_command
    if group == "price-list":
        if name == "create":
            return api.create_price_list(ctxt, json.loads(Path(args.file).read_text()))
        return api.list_price_lists(ctxt, args.name)
    if group == "account":
        if name == "create":
            body = {
                "name": args.name,
                "currency": args.currency,
                "price_list": args.price_list,
                "mode": args.mode,
            }
            if args.credit_limit is not None:
                body["credit_limit"] = _optional(args.credit_limit)
            if args.email is not None:
                body["email"] = args.email
            return api.create_account(ctxt, body)
        if name == "list":
            return api.list_accounts(ctxt)
        if name == "show":
            return {**api.get_account(ctxt, args.account), "balance": api.account_balance(ctxt, args.account)}
        if name == "set":
            changes = {
                key: _optional(value) if key in ("credit_limit", "budget") else value
                for key, value in (("price_list", args.price_list), ("credit_limit", args.credit_limit),
                                   ("budget", args.budget), ("email", args.email))
                if value is not None
            }  # fmt: skip
            return api.update_account(ctxt, args.account, changes)
        if name == "add-project":
            return api.set_project(ctxt, args.account, args.project, {"price_list": args.price_list})
        api.remove_project(ctxt, args.account, args.project)
        return {"removed": args.project}
    if group == "invoice":
        if name == "generate":
            body = {"period_start": args.period, **({"account_id": args.account} if args.account else {})}
            return api.generate_invoices(ctxt, body)
        if name == "list":
            return api.list_invoices(ctxt, args.account, args.status)
        if name == "show":
            return api.get_invoice(ctxt, args.invoice)
        argument = {"reference": args.reference} if name == "pay" and args.reference else {}
        return api.invoice_action(ctxt, args.invoice, {name: argument})
    if group == "payment":
        if name == "list":
            return api.list_payments(ctxt, args.account)
        body = {
            "account_id": args.account,
            "amount": args.amount,
            "currency": args.currency,
            "reference": args.reference,
        }
        payment, _ = api.record_payment(ctxt, body)
        return payment
    return api.usage_of(ctxt, args.project, args.start, args.end)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from overcast.billing.api import BillingAPI
    from overcast.billing.settings import BillingSettings
    from overcast.cloud import Cloud
    from overcast.context import RequestContext
    from overcast.metering.usage import UsageReader

    cloud = Cloud.from_settings(settings)
    try:
        clock = cloud.clock
        api = BillingAPI(cloud.db, UsageReader(cloud.db, clock), clock, BillingSettings())
        ctxt = RequestContext.admin()
        if args.billing_group == "invoice" and args.billing_command == "export":
            content, _, _ = api.export_invoice(ctxt, args.invoice, args.document_format)
            if args.output:
                Path(args.output).write_bytes(content)
            else:
                sys.stdout.buffer.write(content)
                sys.stdout.flush()
            return 0
        print(json.dumps(_dispatch(api, ctxt, args), indent=2, sort_keys=True))
        return 0
    finally:
        cloud.close()
