"""Route 53 as the fault proxy sees it: REST requests under /2013-04-01/ (EC2's are query
API posts), named by operation, and Route 53's XML error body."""

import uuid
from urllib.parse import urlparse

ROUTE53_PREFIX = "/2013-04-01/"


def route53_action(method, path):
    """The Route 53 operation of a REST request, or None for any other request."""
    if not path.startswith(ROUTE53_PREFIX):
        return None
    rest = urlparse(path).path[len(ROUTE53_PREFIX):].rstrip("/").split("/")
    if rest[0] == "hostedzone" and len(rest) == 3 and rest[2] == "rrset":
        return "ChangeResourceRecordSets" if method == "POST" else "ListResourceRecordSets"
    if rest[0] == "change" and len(rest) == 2:
        return "GetChange"
    if rest[0] == "hostedzone" and len(rest) == 2 and method == "GET":
        return "GetHostedZone"
    return f"Route53:{method}"


def route53_error_xml(code, message):
    """The body Route 53 sends with an error (REST-XML)."""
    return (f"<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/"
            f"doc/2013-04-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
            f"</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
