"""EC2's pagination in moto 5.2.5 (installed by moto_ext.install):

1. DescribeRouteTables, DescribeNetworkInterfaces, DescribeTransitGatewayRouteTables and
   DescribeTransitGatewayAttachments ignore MaxResults and NextToken: one answer holds
   everything -> they page. SearchTransitGatewayRoutes cut at MaxResults with no NextToken
   -> it pages too (AdditionalRoutesAvailable kept).

The page size is MaxResults, or EC2VIP_MOTO_PAGE_SIZE when the server starts with it (the
smaller of the two), so a client that never asks for small pages gets them anyway; with
EC2VIP_MOTO_PAGE_AGENT set, only requests whose User-Agent contains it are paged by the
variable (the test's own boto3 seeding reads everything at once). Without either, the
answer is moto's. Like EC2 for many describes, a page is cut from everything the request
names (its ids, or all) BEFORE the filters apply: a page may hold none of the matches and
still carry a NextToken; a client that stops early misses them.
"""

import os

ENV_SIZE, ENV_AGENT = "EC2VIP_MOTO_PAGE_SIZE", "EC2VIP_MOTO_PAGE_AGENT"


def _error(code, message):
    from moto.ec2.exceptions import EC2ClientError
    return EC2ClientError(code, message)


def _page_size(resp):
    sizes = []
    limit = resp._get_param("MaxResults")
    if limit:
        sizes.append(int(limit))
    forced = os.environ.get(ENV_SIZE)
    agent = os.environ.get(ENV_AGENT, "")
    if forced and agent in (resp.headers.get("User-Agent") or ""):
        sizes.append(int(forced))
    return min(sizes) if sizes else None


def page(resp, matches, everything, ident):
    """(the matches on this request's page, the next page's token or None)."""
    size = _page_size(resp)
    if size is None:
        return matches, None
    token = resp._get_param("NextToken") or "page-0"
    if not token.startswith("page-") or not token[5:].isdigit():
        raise _error("InvalidNextToken", f"The token '{token}' is invalid")
    start = int(token[5:])
    on_page = {ident(x) for x in everything[start:start + size]}
    more = start + size < len(everything)
    return [m for m in matches if ident(m) in on_page], (f"page-{start + size}" if more else None)


def _paged(orig, key, everything, ident=lambda x: x.id):
    """Wrap a describe response method: its list `key` cut to one page, plus NextToken."""
    def respond(self):
        result = orig(self)
        body = result.result
        body[key], token = page(self, list(body[key]), list(everything(self)), ident)
        if token:
            body["NextToken"] = token
        return result
    respond.__name__ = orig.__name__
    return respond


def install():
    from moto.ec2.responses.elastic_network_interfaces import ElasticNetworkInterfaces
    from moto.ec2.responses.route_tables import RouteTables
    from moto.ec2.responses.transit_gateway_attachments import TransitGatewayAttachment
    from moto.ec2.responses.transit_gateway_route_tables import TransitGatewayRouteTable

    RouteTables.describe_route_tables = _paged(
        RouteTables.describe_route_tables, "RouteTables",
        lambda r: r.ec2_backend.describe_route_tables(r._get_param("RouteTableIds", []), {}))
    ElasticNetworkInterfaces.describe_network_interfaces = _paged(
        ElasticNetworkInterfaces.describe_network_interfaces, "NetworkInterfaces",
        lambda r: r.ec2_backend.get_all_network_interfaces(r._get_param("NetworkInterfaceIds", []), {}))
    TransitGatewayRouteTable.describe_transit_gateway_route_tables = _paged(
        TransitGatewayRouteTable.describe_transit_gateway_route_tables, "transitGatewayRouteTables",
        lambda r: r.ec2_backend.get_all_transit_gateway_route_tables(
            r._get_param("TransitGatewayRouteTableIds"), {}))
    TransitGatewayAttachment.describe_transit_gateway_attachments = _paged(
        TransitGatewayAttachment.describe_transit_gateway_attachments, "TransitGatewayAttachments",
        lambda r: r.ec2_backend.describe_transit_gateway_attachments(
            transit_gateways_attachment_ids=r._get_param("TransitGatewayAttachmentIds", []), filters={}))
