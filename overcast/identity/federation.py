"""OS-FEDERATION resources: identity providers and their protocols, mappings, service providers.

They are stored and served as Keystone does, so automation that declares them works; a federated login
(SAML2, OpenID Connect) is not served: no protocol here turns an assertion into a token.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import (
    FederationMapping,
    FederationProtocol,
    IdentityProvider,
    ServiceProvider,
)
from overcast.errors import BadRequest, Conflict, NotFound
from overcast.identity.core import IdentityCore

Entity = dict[str, Any]


def idp_entity(idp: IdentityProvider) -> Entity:
    return {
        "id": idp.id,
        "domain_id": idp.domain_id,
        "description": idp.description,
        "enabled": idp.enabled,
        "remote_ids": list(idp.remote_ids or []),
        "authorization_ttl": idp.authorization_ttl,
    }


def mapping_entity(mapping: FederationMapping) -> Entity:
    return {"id": mapping.id, "rules": mapping.rules, "schema_version": mapping.schema_version}


def protocol_entity(protocol: FederationProtocol) -> Entity:
    return {
        "id": protocol.id,
        "idp_id": protocol.idp_id,
        "mapping_id": protocol.mapping_id,
        "remote_id_attribute": protocol.remote_id_attribute,
    }


def sp_entity(sp: ServiceProvider) -> Entity:
    return {
        "id": sp.id,
        "auth_url": sp.auth_url,
        "sp_url": sp.sp_url,
        "description": sp.description,
        "enabled": sp.enabled,
        "relay_state_prefix": sp.relay_state_prefix,
    }


def _rules(fields: dict[str, Any]) -> list[Any]:
    """Keystone's mapping schema in short: a list of rules, each with `local` and `remote` lists."""
    rules = fields.get("rules")
    if not isinstance(rules, list) or not all(
        isinstance(rule, dict)
        and isinstance(rule.get("local"), list)
        and isinstance(rule.get("remote"), list)
        for rule in rules
    ):
        raise BadRequest("Invalid input for field 'rules': a list of rules with 'local' and 'remote' lists.")
    return rules


def _url(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or len(value) > 256:
        raise BadRequest(f"Invalid input for field '{key}': an http(s) URL of at most 256 characters.")
    return value


class FederationAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    # Identity providers -------------------------------------------------------------------------------
    def list_idps(self, enabled: bool | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(IdentityProvider).order_by(IdentityProvider.id)
            if enabled is not None:
                query = query.where(IdentityProvider.enabled.is_(enabled))
            return [idp_entity(row) for row in session.scalars(query)]

    def get_idp(self, idp_id: str) -> Entity:
        with self.db.reader() as session:
            return idp_entity(self._get(session, IdentityProvider, idp_id, "identity provider"))

    def create_idp(self, idp_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            if session.get(IdentityProvider, idp_id) is not None:
                raise Conflict(f"Duplicate entry: identity provider {idp_id} exists.")
            domain_id = fields.get("domain_id")
            if domain_id is not None:
                self.core.get_domain(session, domain_id)
            remote_ids = self._remote_ids(session, fields.get("remote_ids") or [], idp_id)
            idp = IdentityProvider(
                id=idp_id,
                domain_id=domain_id,
                description=fields.get("description") or "",
                enabled=fields.get("enabled", False),
                remote_ids=remote_ids,
                authorization_ttl=fields.get("authorization_ttl"),
            )
            session.add(idp)
            session.flush()
            return idp_entity(idp)

    def update_idp(self, idp_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            idp = self._get(session, IdentityProvider, idp_id, "identity provider")
            if "domain_id" in fields and fields["domain_id"] != idp.domain_id:
                raise BadRequest("Update of `domain_id` is not allowed.")
            if "remote_ids" in fields:
                idp.remote_ids = self._remote_ids(session, fields["remote_ids"] or [], idp_id)
            for key in ("description", "enabled", "authorization_ttl"):
                if key in fields:
                    setattr(idp, key, fields[key] if key != "description" else fields[key] or "")
            session.flush()
            return idp_entity(idp)

    def delete_idp(self, idp_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._get(session, IdentityProvider, idp_id, "identity provider"))

    @staticmethod
    def _remote_ids(session: Session, remote_ids: list[Any], idp_id: str) -> list[str]:
        if not all(isinstance(remote, str) for remote in remote_ids):
            raise BadRequest("Invalid input for field 'remote_ids': a list of strings.")
        for other in session.scalars(select(IdentityProvider).where(IdentityProvider.id != idp_id)):
            taken = set(other.remote_ids or []) & set(remote_ids)
            if taken:
                raise Conflict(
                    f"Duplicate remote ID: {sorted(taken)[0]} belongs to identity provider {other.id}."
                )
        return list(dict.fromkeys(remote_ids))

    # Protocols ----------------------------------------------------------------------------------------
    def list_protocols(self, idp_id: str) -> list[Entity]:
        with self.db.reader() as session:
            self._get(session, IdentityProvider, idp_id, "identity provider")
            query = (
                select(FederationProtocol)
                .where(FederationProtocol.idp_id == idp_id)
                .order_by(FederationProtocol.id)
            )
            return [protocol_entity(row) for row in session.scalars(query)]

    def get_protocol(self, idp_id: str, protocol_id: str) -> Entity:
        with self.db.reader() as session:
            return protocol_entity(self._protocol(session, idp_id, protocol_id))

    def create_protocol(self, idp_id: str, protocol_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            self._get(session, IdentityProvider, idp_id, "identity provider")
            if session.get(FederationProtocol, (idp_id, protocol_id)) is not None:
                raise Conflict(
                    f"Duplicate entry: protocol {protocol_id} of identity provider {idp_id} exists."
                )
            mapping_id = self._mapping_id(session, fields)
            protocol = FederationProtocol(
                idp_id=idp_id,
                id=protocol_id,
                mapping_id=mapping_id,
                remote_id_attribute=fields.get("remote_id_attribute"),
            )
            session.add(protocol)
            session.flush()
            return protocol_entity(protocol)

    def update_protocol(self, idp_id: str, protocol_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            protocol = self._protocol(session, idp_id, protocol_id)
            if "mapping_id" in fields:
                protocol.mapping_id = self._mapping_id(session, fields)
            if "remote_id_attribute" in fields:
                protocol.remote_id_attribute = fields["remote_id_attribute"]
            session.flush()
            return protocol_entity(protocol)

    def delete_protocol(self, idp_id: str, protocol_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._protocol(session, idp_id, protocol_id))

    def _protocol(self, session: Session, idp_id: str, protocol_id: str) -> FederationProtocol:
        self._get(session, IdentityProvider, idp_id, "identity provider")
        protocol = session.get(FederationProtocol, (idp_id, protocol_id))
        if protocol is None:
            raise NotFound(f"Could not find federated protocol: {protocol_id}.")
        return protocol

    def _mapping_id(self, session: Session, fields: dict[str, Any]) -> str:
        mapping_id = fields.get("mapping_id")
        if not isinstance(mapping_id, str) or not mapping_id:
            raise BadRequest("Invalid input for field 'mapping_id': 'mapping_id' is a required property.")
        self._get(session, FederationMapping, mapping_id, "mapping")
        return mapping_id

    # Mappings -----------------------------------------------------------------------------------------
    def list_mappings(self) -> list[Entity]:
        with self.db.reader() as session:
            return [
                mapping_entity(row)
                for row in session.scalars(select(FederationMapping).order_by(FederationMapping.id))
            ]

    def get_mapping(self, mapping_id: str) -> Entity:
        with self.db.reader() as session:
            return mapping_entity(self._get(session, FederationMapping, mapping_id, "mapping"))

    def create_mapping(self, mapping_id: str, fields: dict[str, Any]) -> Entity:
        rules = _rules(fields)
        with self.db.writer() as session:
            if session.get(FederationMapping, mapping_id) is not None:
                raise Conflict(f"Duplicate entry: mapping {mapping_id} exists.")
            mapping = FederationMapping(
                id=mapping_id, rules=rules, schema_version=str(fields.get("schema_version") or "1.0")
            )
            session.add(mapping)
            session.flush()
            return mapping_entity(mapping)

    def update_mapping(self, mapping_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            mapping = self._get(session, FederationMapping, mapping_id, "mapping")
            if "rules" in fields:
                mapping.rules = _rules(fields)
            if fields.get("schema_version"):
                mapping.schema_version = str(fields["schema_version"])
            session.flush()
            return mapping_entity(mapping)

    def delete_mapping(self, mapping_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._get(session, FederationMapping, mapping_id, "mapping"))

    # Service providers --------------------------------------------------------------------------------
    def list_sps(self, enabled: bool | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(ServiceProvider).order_by(ServiceProvider.id)
            if enabled is not None:
                query = query.where(ServiceProvider.enabled.is_(enabled))
            return [sp_entity(row) for row in session.scalars(query)]

    def get_sp(self, sp_id: str) -> Entity:
        with self.db.reader() as session:
            return sp_entity(self._get(session, ServiceProvider, sp_id, "service provider"))

    def create_sp(self, sp_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            if session.get(ServiceProvider, sp_id) is not None:
                raise Conflict(f"Duplicate entry: service provider {sp_id} exists.")
            sp = ServiceProvider(
                id=sp_id,
                auth_url=_url(fields, "auth_url"),
                sp_url=_url(fields, "sp_url"),
                description=fields.get("description") or "",
                enabled=fields.get("enabled", False),
                relay_state_prefix=fields.get("relay_state_prefix") or "ss:mem:",
            )
            session.add(sp)
            session.flush()
            return sp_entity(sp)

    def update_sp(self, sp_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            sp = self._get(session, ServiceProvider, sp_id, "service provider")
            for key in ("auth_url", "sp_url"):
                if key in fields:
                    setattr(sp, key, _url(fields, key))
            if "description" in fields:
                sp.description = fields["description"] or ""
            if "enabled" in fields:
                sp.enabled = fields["enabled"]
            if fields.get("relay_state_prefix"):
                sp.relay_state_prefix = fields["relay_state_prefix"]
            session.flush()
            return sp_entity(sp)

    def delete_sp(self, sp_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._get(session, ServiceProvider, sp_id, "service provider"))

    @staticmethod
    def _get(session: Session, model: Any, entity_id: str, what: str) -> Any:
        row = session.get(model, entity_id)
        if row is None:
            raise NotFound(f"Could not find {what}: {entity_id}.")
        return row
