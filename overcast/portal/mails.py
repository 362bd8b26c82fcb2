"""The texts of the portal's e-mails (plain text; every link points at the dashboard's pages)."""

from __future__ import annotations

from urllib.parse import quote

from overcast.mail import Mail


def link(dashboard_url: str, page: str, token: str) -> str:
    return f"{dashboard_url.rstrip('/')}/{page}?token={quote(token)}"


def verify_address(to: str, name: str, url: str, hours: int) -> Mail:
    return Mail(
        to=(to,),
        subject="Confirm your Overcast sign-up",
        body=(
            f"Hello {name},\n\nthank you for signing up. Open this link to confirm your address and create "
            f"your account:\n\n{url}\n\nThe link works once, for {hours} hours. If you did not sign up, "
            "ignore this mail: no account is made without it.\n"
        ),
    )


def already_registered(to: str, dashboard_url: str) -> Mail:
    return Mail(
        to=(to,),
        subject="Your Overcast sign-up",
        body=(
            "Someone (probably you) asked to sign up with this address, but it already has an account.\n\n"
            f"Log in at {dashboard_url.rstrip('/')}/login, or reset your password at "
            f"{dashboard_url.rstrip('/')}/password/forgot.\n\nIf it was not you, ignore this mail.\n"
        ),
    )


def reset_password(to: str, url: str, minutes: int) -> Mail:
    return Mail(
        to=(to,),
        subject="Reset your Overcast password",
        body=(
            f"Open this link to choose a new password:\n\n{url}\n\nThe link works once, for {minutes} "
            "minutes. If you did not ask for it, ignore this mail: your password stays as it is.\n"
        ),
    )


def invitation(to: str, inviter: str, project: str, role: str, url: str, days: int) -> Mail:
    return Mail(
        to=(to,),
        subject=f"{inviter} invites you to the Overcast project {project}",
        body=(
            f"{inviter} invites you to join the project {project} as {role}.\n\nAccept the invitation "
            f"here:\n\n{url}\n\nThe link works once, for {days} days.\n"
        ),
    )


def suspended(to: str, account: str, reason: str) -> Mail:
    because = f"\n\nReason: {reason}" if reason else ""
    return Mail(
        to=(to,),
        subject=f"Your Overcast account {account} is suspended",
        body=(
            f"The account {account} is suspended: its servers are stopped and its users cannot log in."
            f"{because}\n\nPlease contact support.\n"
        ),
    )


def resumed(to: str, account: str) -> Mail:
    return Mail(
        to=(to,),
        subject=f"Your Overcast account {account} is active again",
        body=f"The account {account} is active again: its users can log in and start their servers.\n",
    )


def confirm_new_address(to: str, login: str, url: str, hours: int) -> Mail:
    return Mail(
        to=(to,),
        subject="Confirm your new Overcast address",
        body=(
            f"Someone logged in as {login} asked to use this address for their Overcast account. Open this "
            f"link to confirm it:\n\n{url}\n\nThe link works once, for {hours} hours. Until then the account "
            "keeps its old address. If you did not ask for it, ignore this mail.\n"
        ),
    )


def address_change_requested(to: str, new: str) -> Mail:
    return Mail(
        to=(to,),
        subject="Your Overcast address is about to change",
        body=(
            f"Someone logged in to your Overcast account asked to change its address to {new}. It changes "
            "only when the link sent there is opened; if your login is this address, it becomes the new "
            "one too.\n\nIf it was not you, change your password now: the address stays as it is.\n"
        ),
    )
