"""The upstream core3 ``qubes.xml`` format: :class:`Core3Document` to bytes and back.

Shape, as qubesd writes it (``Qubes.__xml__``, lxml ``pretty_print``, no declaration)::

    <qubes>
      <labels><label id="label-N" color="0xRRGGBB">name</label>…</labels>
      <pools><pool driver=… name=… (config attributes)/>…</pools>
      <properties><property name=…>value</property>…</properties>   (global, explicit)
      <domains>
        <domain id="domain-<qid>" class="<Class>">
          <properties> … qid (not for AdminVM), name, label = "label-N", VM refs by name,
                       an empty element for a None VM reference … </properties>
          <features><feature name=…>value</feature>…</features>
          <devices class=…><device backend-domain=… id=<port> mode=… identity=<dev id>>
            <option name=…>value</option></device></devices>     (one per device class)
          <tags><tag name=…/>…</tags>
          <volume-config><volume name=… pool=… vid=… …/>…</volume-config>  (not AdminVM)
        </domain>
      </domains>
    </qubes>

Reading also accepts what older qubesd releases wrote: a ``ref=`` attribute instead of
the property text, the root ``version`` attribute, devices without ``mode``/``identity``
(the legacy ``required`` attribute decides the mode). Unknown elements are ignored
with a warning, as qubesd ignores them: they would be dropped by its next save too, and
writing back opaque fragments that nothing here understands could resurrect stale data
(for instance about a qube that was removed meanwhile). Everything inside the known
containers is kept, whatever its name: unknown properties, features, pool and volume
attributes all travel through unchanged.
"""

from backend.store.core3_read import from_xml
from backend.store.core3_write import to_xml
from backend.store.core3names import (
    ADMIN_FIXED,
    ASSIGNMENT_MODES,
    DOMAIN_VM_REFS,
    GLOBAL_VM_REFS,
    MAX_QID,
    PathLike,
    domain_name,
    find_label,
    label_ref,
)

__all__ = [
    "ADMIN_FIXED",
    "ASSIGNMENT_MODES",
    "DOMAIN_VM_REFS",
    "GLOBAL_VM_REFS",
    "MAX_QID",
    "PathLike",
    "domain_name",
    "find_label",
    "from_xml",
    "label_ref",
    "to_xml",
]
