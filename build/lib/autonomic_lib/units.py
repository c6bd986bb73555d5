"""Datadog's metric units, so the catalogue can be checked and the sandbox can answer unit objects.

Names and families follow Datadog's public unit list (docs.datadoghq.com/metrics/units). Scale
factors are relative to the family's base unit (second, byte, dollar, ...) and only matter within
a family.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """One unit as Datadog's query responses describe it."""

    name: str
    family: str
    plural: str
    short_name: str
    scale_factor: float = 1.0

    def as_json(self) -> dict[str, object]:
        """The unit object of a query response (v1 `unit[]`, v2 `series[].unit[]`)."""
        return {"family": self.family, "name": self.name, "plural": self.plural,
                "scale_factor": self.scale_factor, "short_name": self.short_name}


def _family(family: str, spec: str) -> dict[str, Unit]:
    """Parse 'name[=short][@scale]' items separated by spaces; plural is name + 's' unless given as name/plural."""
    units = {}
    for item in spec.split():
        scale = 1.0
        if "@" in item:
            item, raw_scale = item.split("@")
            scale = float(raw_scale)
        short = ""
        if "=" in item:
            item, short = item.split("=")
        name, _, plural = item.partition("/")
        name = name.replace("_", " ") if family == "general" and name == "garbage_collection" else name
        units[name] = Unit(name, family, plural or name + "s", short or name, scale)
    return units


UNITS: dict[str, Unit] = {
    **_family("bytes", "bit=b@0.125 byte=B kibibyte=KiB@1024 mebibyte=MiB@1048576 gibibyte=GiB@1073741824 "
                       "tebibyte=TiB@1099511627776"),
    **_family("time", "nanosecond=ns@1e-9 microsecond=μs@1e-6 millisecond=ms@0.001 second=s minute=min@60 "
                      "hour=hr@3600 day/days=d@86400 week=wk@604800"),
    **_family("percentage", "percent_nano/percent_nano=n%@1e-9 percent/percent=% apdex/apdex fraction@100"),
    **_family("network", "connection=conn request=req packet=pkt segment=seg response=rsp message=msg payload "
                         "timeout datagram route session hop"),
    **_family("system", "process=proc thread host node fault service=svc instance cpu/cpus"),
    **_family("disk", "file inode sector block=blk"),
    **_family("general", "buffer error=err read=rd write=wr occurrence event time unit operation=op item task "
                         "worker resource=res garbage_collection=gc email sample=smpl stage monitor location check "
                         "attempt device=dev update=up method=mthd job container execution throttle invocation user "
                         "success build prediction exception"),
    **_family("db", "table index/indices lock transaction query/queries row key command offset record object "
                    "cursor assertion scan document shard flush/flushes merge refresh/refreshes fetch/fetches column "
                    "commit wait ticket question"),
    **_family("cache", "hit miss/misses eviction get set"),
    **_family("money", "dollar=$ cent=¢@0.01 microdollar=μ$@1e-6 euro=€"),
    **_family("frequency", "hertz/hertz=Hz kilohertz/kilohertz=kHz@1e3 megahertz/megahertz=MHz@1e6 "
                           "gigahertz/gigahertz=GHz@1e9"),
    **_family("logging", "entry/entries"),
    **_family("apm", "span"),
    **_family("synthetics", "run"),
}


def unit(name: str | None) -> Unit | None:
    """The unit called `name`, or None for no unit; unknown names raise KeyError listing where to look."""
    if not name:
        return None
    try:
        return UNITS[name]
    except KeyError:
        raise KeyError(f"unknown Datadog unit {name!r}; see autonomic_lib/units.py for the accepted names") from None
