"""Billing policy rules, enforced by BillingAPI (overcast.billing.api).

Members and readers of a project see its usage, prices, balance, payments and invoices (targets carry
{"project_id": ...} of a project billed to the account in question); admins manage price lists, billing
accounts, payments and invoices.
"""

from __future__ import annotations

from overcast.policy import ADMIN, ADMIN_OR_READER, DocumentedRule, HasRole, Matches, documented

V1 = "/billing/v1"
PRICE_LISTS = f"{V1}/price-lists"
PRICE_LIST = f"{PRICE_LISTS}/{{price_list_id}}"
ACCOUNTS = f"{V1}/accounts"
ACCOUNT = f"{ACCOUNTS}/{{account_id}}"
INVOICES = f"{V1}/invoices"
INVOICE = f"{INVOICES}/{{invoice_id}}"

# A member of a project billed to the account (the target's project_id is the caller's own then).
PROJECT_VIEWER = ADMIN_OR_READER | (
    (HasRole("member") | HasRole("manager")) & Matches("project_id", "project_id")
)
# The same, without readers: they may look at the account, not change its budget.
PROJECT_MEMBER = ADMIN | ((HasRole("member") | HasRole("manager")) & Matches("project_id", "project_id"))

PRICE_LIST_MANAGE = "billing:price_lists:manage"
PRICE_LIST_READ = "billing:price_lists:read"
PRICES_SHOW = "billing:prices:show"
USAGE_SHOW = "billing:usage:show"
BALANCE_SHOW = "billing:balance:show"
BUDGET_SHOW = "billing:budget:show"
BUDGET_UPDATE = "billing:budget:update"
ACCOUNT_READ = "billing:accounts:read"
ACCOUNT_MANAGE = "billing:accounts:manage"
INVOICE_READ = "billing:invoices:read"
INVOICE_MANAGE = "billing:invoices:manage"
PAYMENT_READ = "billing:payments:read"
PAYMENT_CREATE = "billing:payments:create"
# CloudKitty's own rule names (overcast.billing.cloudkitty): an operator's policy file keeps its meaning.
RATING_SUMMARY = "summary:get_summary"
RATING_DATAFRAMES = "dataframes:get"

RULES: tuple[DocumentedRule, ...] = (
    documented(PRICE_LIST_MANAGE, ADMIN, "Create price lists and their new versions.", ("POST", PRICE_LISTS)),
    documented(
        PRICE_LIST_READ, ADMIN, "List and show every price list.", ("GET", PRICE_LISTS), ("GET", PRICE_LIST)
    ),
    documented(
        PRICES_SHOW, PROJECT_VIEWER, "Show the prices a project is billed at.", ("GET", f"{V1}/prices")
    ),
    documented(USAGE_SHOW, PROJECT_VIEWER, "Show a project's rated usage.", ("GET", f"{V1}/usage")),
    documented(
        BALANCE_SHOW,
        PROJECT_VIEWER,
        "Show the balance of a project's billing account (or of an account by its id).",
        ("GET", f"{V1}/balance"),
        ("GET", f"{ACCOUNT}/balance"),
    ),
    documented(
        BUDGET_SHOW,
        PROJECT_VIEWER,
        "Show the budget, alert percentages and alert address of a project's billing account.",
        ("GET", f"{V1}/budget"),
    ),
    documented(
        BUDGET_UPDATE,
        PROJECT_MEMBER,
        "Set the budget, alert percentages and alert address of a project's billing account.",
        ("PUT", f"{V1}/budget"),
    ),
    documented(ACCOUNT_READ, ADMIN, "List and show billing accounts.", ("GET", ACCOUNTS), ("GET", ACCOUNT)),
    documented(
        ACCOUNT_MANAGE,
        ADMIN,
        "Create, update and delete billing accounts and the projects they pay for.",
        ("POST", ACCOUNTS),
        ("PATCH", ACCOUNT),
        ("DELETE", ACCOUNT),
        ("PUT", f"{ACCOUNT}/projects/{{project_id}}"),
        ("DELETE", f"{ACCOUNT}/projects/{{project_id}}"),
    ),
    documented(
        INVOICE_READ,
        PROJECT_VIEWER,
        "List, show and export the invoices of a project's billing account.",
        ("GET", INVOICES),
        ("GET", INVOICE),
        ("GET", f"{INVOICE}/export/{{document_format}}"),
    ),
    documented(
        INVOICE_MANAGE,
        ADMIN,
        "Generate invoices, and issue, pay or void them.",
        ("POST", INVOICES),
        ("POST", f"{INVOICE}/action"),
    ),
    documented(
        PAYMENT_READ,
        PROJECT_VIEWER,
        "List the payments of a project's billing account.",
        ("GET", f"{V1}/payments"),
    ),
    documented(PAYMENT_CREATE, ADMIN, "Record a payment.", ("POST", f"{V1}/payments")),
    documented(
        RATING_SUMMARY,
        PROJECT_VIEWER,
        "Get CloudKitty's rating summary: a member's own project's, an admin's of any project.",
        ("GET", "/rating/v2/summary"),
    ),
    documented(
        RATING_DATAFRAMES,
        PROJECT_VIEWER,
        "Get CloudKitty's rated dataframes: a member's own project's, an admin's of any project.",
        ("GET", "/rating/v2/dataframes"),
    ),
)
