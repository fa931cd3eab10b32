"""moto server plus the Transit Gateway pieces ec2-vip's TGW failover needs (moto 5.2.5).

    python -m harness.moto_ext -H 127.0.0.1 -p 0     # same CLI and stderr line as moto_server
    start_moto(venv, extended=True)                  # harness/moto.py starts it this way

install() adds or replaces a few methods of moto's own EC2 backend and responses, so tests
still read every result back through the EC2 API. moto 5.2.5 gap -> patch:

1. ReplaceTransitGatewayRoute: HTTP 500 (not implemented) -> implemented.
2. Create/Search/DeleteTransitGatewayRoute: `TransitGatewayAttachments: []` (moto stores a
   dict, the API has a list) -> [{TransitGatewayAttachmentId, ResourceId, ResourceType}],
   resolved when read, seen from the table's account/region. State blackhole for Blackhole
   routes and routes whose attachment is gone.
3. SearchTransitGatewayRoutes: MaxResults -> HTTP 500, unknown filters ignored -> MaxResults,
   NextToken and AdditionalRoutesAvailable (pages as moto_ext_paging.py describes); filters type, state, route-search.{exact,longest-prefix,
   subnet-of,supernet-of}-match, attachment.{transit-gateway-attachment-id,resource-id,
   resource-type}; other names -> InvalidParameterValue.
4. CreateTransitGatewayRoute overwrote an existing route, took unknown attachments or
   another TGW's -> RouteAlreadyExists (EC2's code), InvalidTransitGatewayAttachmentID.NotFound.
   Missing table -> InvalidRouteTableID.NotFound; Replace/Delete of a missing route ->
   InvalidRoute.NotFound (these two codes are guesses). DryRun honoured on Create/Replace.
5. Peering attachments: one object for both sides, seen from the requester, so in the
   accepter's region TransitGatewayId was the peer's TGW and transit-gateway-id=<own TGW>
   found nothing -> each side sees its own TGW as TransitGatewayId, the peer as ResourceId
   (owner ids likewise). The accepter's backend got the attachment only if that
   account/region had been used before -> created first. PeerAccountId defaults to the
   caller's. DescribeTransitGatewayPeeringAttachments listed VPC attachments -> peering only.
   DescribeTransitGatewayAttachments also filters state, transit-gateway-attachment-id,
   transit-gateway-owner-id, resource-owner-id, association.*; unknown -> InvalidParameterValue.
6. Cross-account (TGW shared from a network account): CreateTransitGatewayVpcAttachment only
   found TGWs of the caller's account; CreateRoute/ReplaceRoute with another account's (or an
   unknown) TransitGatewayId stored a route with no target -> TGWs are looked up in every
   account of the region; the attachment shows in both accounts, available at once (no RAM
   share, no acceptance), TransitGatewayOwnerId = the TGW's owner; unknown ->
   InvalidTransitGatewayID.NotFound.

7. Secondary private IPs (AssignPrivateIpAddresses): see moto_ext_eni.py.
8. IPv6 route filter of DescribeRouteTables: see moto_ext_ipv6.py.
9. CreateRoute/ReplaceRoute/DeleteRoute ignored DryRun and made the change -> DryRunOperation
   (HTTP 412), nothing changed (ec2-vip doctor proves permissions this way).
10. Describes ignore MaxResults/NextToken: see moto_ext_paging.py (also forced small pages).
11. DescribeInstanceStatus ignored DryRun and answered -> DryRunOperation (doctor proves the
    split-brain liveness read this way).

Limits: no propagated routes; a peering inside one account and region is seen from the
requester on both sides; explicit TGW route-table associations do not show in Association.
"""

import inspect
import ipaddress
import os
import sys

MOTO_VERSION = "5.2.5"
_installed = False


class _SideView:
    """An attachment as one account/region sees it; everything else comes from moto's object."""

    def __init__(self, att, tgw_id, resource_id, tgw_owner, resource_owner, association):
        self._att = att
        self.transit_gateway_id = tgw_id
        self.resource_id = resource_id
        self.transit_gateway_owner_id = tgw_owner
        self.resource_owner_id = resource_owner
        self.association = association

    def __getattr__(self, name):
        return getattr(self._att, name)


def _side(backend, att):
    if att.resource_type != "peering":
        return _SideView(att, att.transit_gateway_id, att.resource_id,
                         getattr(att, "_tgw_owner", att.owner_id), att.resource_owner_id,
                         att.association)
    req, acc = att.requester_tgw_info, att.accepter_tgw_info
    here = (backend.account_id, backend.region_name)
    mine, peer = req, acc
    if here == (acc["OwnerId"], acc["Region"]) and here != (req["OwnerId"], req["Region"]):
        mine, peer = acc, req
    tgw = backend.transit_gateways.get(mine["TransitGatewayId"])
    assoc = None
    if tgw is not None and att.state == "available":
        assoc = {"State": "associated",
                 "TransitGatewayRouteTableId": tgw.default_route_table.id}
    return _SideView(att, mine["TransitGatewayId"], peer["TransitGatewayId"],
                     mine["OwnerId"], peer["OwnerId"], assoc)


def _error(code, message):
    from moto.ec2.exceptions import EC2ClientError
    return EC2ClientError(code, message)


def _bad_filter(name):
    return _error("InvalidParameterValue", f"The filter '{name}' is invalid")


def _net(value):
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise _error("InvalidParameterValue", f"Invalid CIDR: {value}") from None


def _shared_tgw(backend, tgw_id):
    """The TGW with this id in any account of backend's region (own account first)."""
    from moto.ec2.models import ec2_backends
    if tgw_id in backend.transit_gateways:
        return backend.transit_gateways[tgw_id]
    for account in list(dict.values(ec2_backends)):
        other = dict.get(account, backend.region_name)
        if other is not None and tgw_id in other.transit_gateways:
            return other.transit_gateways[tgw_id]
    return None


# ---- Transit Gateway route tables (gaps 1-4) -------------------------------------------

def _table(backend, rtb_id):
    table = backend.transit_gateways_route_tables.get(rtb_id)
    if table is None or table.state == "deleted":
        raise _error("InvalidRouteTableID.NotFound",
                     f"The transitGatewayRouteTable ID '{rtb_id}' does not exist")
    return table


def _check_target(backend, table, attachment_id, blackhole):
    if blackhole:
        return None
    if not attachment_id:
        raise _error("MissingParameter",
                     "Either TransitGatewayAttachmentId or Blackhole is required")
    att = backend.transit_gateway_attachments.get(attachment_id)
    if att is None or _side(backend, att).transit_gateway_id != table.transit_gateway_id:
        raise _error("InvalidTransitGatewayAttachmentID.NotFound",
                     f"Transit Gateway Attachment {attachment_id} not found on "
                     f"{table.transit_gateway_id}")
    return attachment_id


def _route_out(backend, route):
    """A stored route as the API returns it, its attachment seen from this backend."""
    att_id = route.get("_attachment_id")
    att = backend.transit_gateway_attachments.get(att_id) if att_id else None
    out = {"destinationCidrBlock": route["destinationCidrBlock"], "type": route["type"],
           "state": route["state"], "transitGatewayAttachments": []}
    if att is not None and att.state not in ("deleted", "deleting", "rejected"):
        out["transitGatewayAttachments"] = [{
            "transitGatewayAttachmentId": att.id,
            "resourceId": _side(backend, att).resource_id,
            "resourceType": att.resource_type,
        }]
    elif out["state"] == "active":
        out["state"] = "blackhole"
    return out


def create_transit_gateway_route(self, transit_gateway_route_table_id,
                                 destination_cidr_block, transit_gateway_attachment_id=None,
                                 blackhole=False):
    table = _table(self, transit_gateway_route_table_id)
    if destination_cidr_block in table.routes:
        raise _error("RouteAlreadyExists", f"Route {destination_cidr_block} already exists "
                     f"in Transit Gateway Route Table {table.id}.")
    att_id = _check_target(self, table, transit_gateway_attachment_id, blackhole)
    table.routes[destination_cidr_block] = {
        "destinationCidrBlock": destination_cidr_block, "prefixListId": None,
        "state": "blackhole" if blackhole else "active", "type": "static",
        "_attachment_id": att_id,
    }
    return _route_out(self, table.routes[destination_cidr_block])


def replace_transit_gateway_route(self, transit_gateway_route_table_id,
                                  destination_cidr_block, transit_gateway_attachment_id=None,
                                  blackhole=False):
    table = _table(self, transit_gateway_route_table_id)
    route = table.routes.get(destination_cidr_block)
    if route is None or route.get("type") != "static":
        raise _error("InvalidRoute.NotFound", f"No static route for {destination_cidr_block} "
                     f"in Transit Gateway Route Table {table.id}")
    route["_attachment_id"] = _check_target(self, table, transit_gateway_attachment_id,
                                            blackhole)
    route["state"] = "blackhole" if blackhole else "active"
    return _route_out(self, route)


def delete_transit_gateway_route(self, transit_gateway_route_table_id,
                                 destination_cidr_block):
    table = _table(self, transit_gateway_route_table_id)
    if destination_cidr_block not in table.routes:
        raise _error("InvalidRoute.NotFound", f"No route for {destination_cidr_block} "
                     f"in Transit Gateway Route Table {table.id}")
    out = _route_out(self, table.routes.pop(destination_cidr_block))
    out["state"] = "deleted"
    return out


def _attachment_match(out, field, values):
    return any(a[field] in values for a in out["transitGatewayAttachments"])


_ROUTE_FILTERS = {
    "type": lambda r, v: r["type"] in v,
    "state": lambda r, v: r["state"] in v,
    "route-search.exact-match":
        lambda r, v: any(_net(r["destinationCidrBlock"]) == _net(x) for x in v),
    "route-search.subnet-of-match":
        lambda r, v: any(_same_version_and(r, x, "subnet_of") for x in v),
    "route-search.supernet-of-match":
        lambda r, v: any(_same_version_and(r, x, "supernet_of") for x in v),
    "attachment.transit-gateway-attachment-id":
        lambda r, v: _attachment_match(r, "transitGatewayAttachmentId", v),
    "attachment.resource-id": lambda r, v: _attachment_match(r, "resourceId", v),
    "attachment.resource-type": lambda r, v: _attachment_match(r, "resourceType", v),
    "prefix-list-id": lambda r, v: False,  # moto has no prefix-list TGW routes
}


def _same_version_and(route, value, relation):
    dest, other = _net(route["destinationCidrBlock"]), _net(value)
    return dest.version == other.version and getattr(dest, relation)(other)


def _longest_prefix(routes, values):
    """Per value, the routes holding it with the longest prefix."""
    keep = []
    for value in values:
        cands = [r for r in routes if _same_version_and(r, value, "supernet_of")]
        best = max((_net(r["destinationCidrBlock"]).prefixlen for r in cands), default=None)
        keep += [r for r in cands if _net(r["destinationCidrBlock"]).prefixlen == best
                 and r not in keep]
    return keep


def search_transit_gateway_routes(self, transit_gateway_route_table_id, filters,
                                  max_results=None):
    """All matching routes (the response applies MaxResults)."""
    table = _table(self, transit_gateway_route_table_id)
    routes = [_route_out(self, r) for r in table.routes.values()]
    for name, values in (filters or {}).items():
        if name == "route-search.longest-prefix-match":
            routes = _longest_prefix(routes, values)
        elif name in _ROUTE_FILTERS:
            routes = [r for r in routes if _ROUTE_FILTERS[name](r, values)]
        else:
            raise _bad_filter(name)
    return routes


# ---- responses (gaps 1, 3, 4) ----------------------------------------------------------

def _route_params(resp):
    from moto.utilities.utils import str2bool
    return dict(
        transit_gateway_route_table_id=resp._get_param("TransitGatewayRouteTableId"),
        destination_cidr_block=resp._get_param("DestinationCidrBlock"),
        transit_gateway_attachment_id=resp._get_param("TransitGatewayAttachmentId"),
        blackhole=bool(str2bool(resp._get_param("Blackhole"))),
    )


def _resp_route_op(op):
    """Create/ReplaceTransitGatewayRoute response: DryRun honoured, route as returned."""
    def respond(self):
        from moto.core.responses import ActionResult
        params = _route_params(self)
        self.error_on_dryrun()
        return ActionResult({"route": getattr(self.ec2_backend, op)(**params)})
    return respond


def _resp_search_routes(self):
    from moto.core.responses import ActionResult
    from .moto_ext_paging import page
    table = self._get_param("TransitGatewayRouteTableId")
    routes = self.ec2_backend.search_transit_gateway_routes(table, self._filters_from_querystring())
    everything = self.ec2_backend.search_transit_gateway_routes(table, {})
    routes, token = page(self, routes, everything, lambda r: r["destinationCidrBlock"])
    out = {"routeSet": routes, "additionalRoutesAvailable": token is not None}
    if token:
        out["nextToken"] = token
    return ActionResult(out)


# ---- attachments (gaps 5, 6) -----------------------------------------------------------

_ATTACHMENT_FILTERS = {
    "resource-id": lambda v: v.resource_id,
    "resource-type": lambda v: v.resource_type,
    "resource-owner-id": lambda v: v.resource_owner_id,
    "state": lambda v: v.state,
    "transit-gateway-attachment-id": lambda v: v.id,
    "transit-gateway-id": lambda v: v.transit_gateway_id,
    "transit-gateway-owner-id": lambda v: v.transit_gateway_owner_id,
    "association.state": lambda v: (v.association or {}).get("State"),
    "association.transit-gateway-route-table-id":
        lambda v: (v.association or {}).get("TransitGatewayRouteTableId"),
}


def describe_transit_gateway_attachments(self, transit_gateways_attachment_ids=None,
                                         filters=None):
    from moto.ec2.utils import describe_tag_filter
    ids = transit_gateways_attachment_ids or []
    views = [_side(self, a) for a in self.transit_gateway_attachments.values()
             if not ids or a.id in ids]
    for name, values in (filters or {}).items():
        if name in _ATTACHMENT_FILTERS:
            views = [v for v in views if _ATTACHMENT_FILTERS[name](v) in values]
        elif not name.startswith("tag:"):
            raise _bad_filter(name)
    return describe_tag_filter(filters or {}, views)


def _wrap_peering_create(orig):
    def create_transit_gateway_peering_attachment(self, transit_gateway_id,
                                                  peer_transit_gateway_id, peer_region,
                                                  peer_account_id, tags):
        from moto.ec2.models import ec2_backends
        peer_account_id = peer_account_id or self.account_id
        peer_region = peer_region or self.region_name
        ec2_backends[peer_account_id][peer_region]  # create the peer's backend first
        return orig(self, transit_gateway_id, peer_transit_gateway_id, peer_region,
                    peer_account_id, tags)
    return create_transit_gateway_peering_attachment


def _wrap_peering_describe(orig):
    def describe_transit_gateway_peering_attachments(self, *args, **kwargs):
        return [a for a in orig(self, *args, **kwargs) if a.resource_type == "peering"]
    return describe_transit_gateway_peering_attachments


def _wrap_vpc_attachment(orig):
    def create_transit_gateway_vpc_attachment(self, transit_gateway_id, vpc_id, subnet_ids,
                                              tags=None, options=None):
        tgw = _shared_tgw(self, transit_gateway_id)
        if tgw is None or tgw.ec2_backend is self:
            return orig(self, transit_gateway_id, vpc_id, subnet_ids, tags, options)
        from moto.ec2.exceptions import DuplicateTransitGatewayAttachmentError
        from moto.ec2.models.transit_gateway_attachments import TransitGatewayVpcAttachment
        owner = tgw.ec2_backend
        if any(a.resource_id == vpc_id and a.transit_gateway_id == tgw.id
               and a.state != "deleted" for a in owner.transit_gateway_attachments.values()):
            raise DuplicateTransitGatewayAttachmentError(tgw.id)
        att = TransitGatewayVpcAttachment(self, transit_gateway=tgw, vpc_id=vpc_id,
                                          subnet_ids=subnet_ids, tags=tags, options=options)
        att._tgw_owner = owner.account_id
        self.transit_gateway_attachments[att.id] = att
        owner.transit_gateway_attachments[att.id] = att
        owner.set_route_table_association(att.id, att.transit_gateway_route_table.id)
        return att
    return create_transit_gateway_vpc_attachment


def _wrap_vpc_route(orig):
    """CreateRoute / ReplaceRoute: a TransitGatewayId may belong to another account."""
    signature = inspect.signature(orig)

    def route_op(self, *args, **kwargs):
        # moto's ReplaceRoute response passes transit_gateway_id positionally.
        tgw_id = signature.bind(self, *args, **kwargs).arguments.get("transit_gateway_id")
        if not tgw_id:
            return orig(self, *args, **kwargs)
        tgw = _shared_tgw(self, tgw_id)
        if tgw is None:
            from moto.ec2.exceptions import InvalidTransitGatewayID
            raise InvalidTransitGatewayID(tgw_id)
        route = orig(self, *args, **kwargs)
        route.transit_gateway = tgw
        return route
    route_op.__name__ = orig.__name__
    return route_op


def _dry_run_first(orig):
    """CreateRoute / ReplaceRoute / DeleteRoute / DescribeInstanceStatus: honour DryRun
    (moto 5.2.5 ignores it and makes the change, or answers); EC2 answers DryRunOperation
    (HTTP 412) and changes nothing."""
    def respond(self):
        self.error_on_dryrun()
        return orig(self)
    respond.__name__ = orig.__name__
    return respond


def install():
    """Patch moto's EC2 backend and responses in this process (idempotent)."""
    global _installed
    if _installed:
        return
    import moto
    from moto.ec2.models.route_tables import RouteBackend
    from moto.ec2.models.transit_gateway_attachments import TransitGatewayAttachmentBackend
    from moto.ec2.models.transit_gateway_route_tables import TransitGatewayRouteTableBackend
    from moto.ec2.responses.transit_gateway_route_tables import TransitGatewayRouteTable

    if moto.__version__ != MOTO_VERSION:
        print(f"moto_ext: written for moto {MOTO_VERSION}, running {moto.__version__}",
              file=sys.stderr)
    rtb = TransitGatewayRouteTableBackend
    rtb.create_transit_gateway_route = create_transit_gateway_route
    rtb.replace_transit_gateway_route = replace_transit_gateway_route
    rtb.delete_transit_gateway_route = delete_transit_gateway_route
    rtb.search_transit_gateway_routes = search_transit_gateway_routes
    for op in ("create_transit_gateway_route", "replace_transit_gateway_route"):
        setattr(TransitGatewayRouteTable, op, _resp_route_op(op))
    TransitGatewayRouteTable.search_transit_gateway_routes = _resp_search_routes

    att = TransitGatewayAttachmentBackend
    att.describe_transit_gateway_attachments = describe_transit_gateway_attachments
    att.create_transit_gateway_peering_attachment = _wrap_peering_create(
        att.create_transit_gateway_peering_attachment)
    att.describe_transit_gateway_peering_attachments = _wrap_peering_describe(
        att.describe_transit_gateway_peering_attachments)
    att.create_transit_gateway_vpc_attachment = _wrap_vpc_attachment(
        att.create_transit_gateway_vpc_attachment)
    from moto.ec2.responses.route_tables import RouteTables
    for op in ("create_route", "replace_route", "delete_route"):
        setattr(RouteTables, op, _dry_run_first(getattr(RouteTables, op)))
    from moto.ec2.responses.instances import InstanceResponse
    InstanceResponse.describe_instance_status = _dry_run_first(InstanceResponse.describe_instance_status)
    RouteBackend.create_route = _wrap_vpc_route(RouteBackend.create_route)
    RouteBackend.replace_route = _wrap_vpc_route(RouteBackend.replace_route)
    from . import moto_ext_eni, moto_ext_ipv6, moto_ext_paging  # see their docstrings
    moto_ext_eni.install()
    moto_ext_ipv6.install()
    moto_ext_paging.install()
    _installed = True


def main(argv=None):
    # `python -m harness.moto_ext` run from inside tests/harness would import harness/moto.py
    # as `moto`: drop this directory from the path first.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    install()
    from moto.server import main as moto_main
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
