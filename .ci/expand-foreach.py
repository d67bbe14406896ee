"""Write the resources a template's Fn::ForEach blocks generate as a plain template.

checkov does not expand AWS::LanguageExtensions: resources inside
Fn::ForEach (the lifecycle hooks and their role policies in template.yaml,
the registrar role and SSM document in shared-services/template.yaml) are
not scanned at all ("Failed to create a new template with enriched
resources"). This expands them with SAM CLI's own expander
(samcli.lib.cfn_language_extensions, the code behind
`sam build --language-extensions`) for the sample parameter values given,
and writes only the generated resources (with the template's Parameters,
Conditions and Mappings) so that checkov sees each once. Their Metadata,
checkov skips included, is copied into every expansion.

Run with the Python that has aws-sam-cli installed:
    python expand-foreach.py TEMPLATE OUT Name=value[,value...] ...
"""

import sys

from samcli.lib.cfn_language_extensions.api import process_template
from samcli.lib.cfn_language_extensions.models import PseudoParameterValues
from samcli.yamlhelper import yaml_dump, yaml_parse


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    src, out, overrides = argv[0], argv[1], argv[2:]
    with open(src, encoding="utf-8") as f:
        template = yaml_parse(f.read())

    params = {}
    for kv in overrides:
        name, _, value = kv.partition("=")
        ptype = template.get("Parameters", {}).get(name, {}).get("Type", "String")
        params[name] = value.split(",") if "List" in ptype else value

    loops = [k for k in template.get("Resources", {}) if k.startswith("Fn::ForEach::")]
    if not loops:
        sys.exit(f"{src}: no Fn::ForEach in Resources")
    plain = set(template["Resources"]) - set(loops)

    expanded = process_template(
        template,
        parameter_values=params,
        pseudo_parameters=PseudoParameterValues(region="eu-west-1", account_id="123456789012"),
    )
    generated = {k: v for k, v in expanded["Resources"].items() if k not in plain}
    if not generated or any(k.startswith("Fn::ForEach::") for k in generated):
        sys.exit(f"{src}: Fn::ForEach not expanded with {overrides}")

    result = {"AWSTemplateFormatVersion": "2010-09-09"}
    for section in ("Parameters", "Conditions", "Mappings"):
        if section in template:
            result[section] = template[section]
    result["Resources"] = generated
    with open(out, "w", encoding="utf-8") as f:
        f.write(yaml_dump(result))
    print(f"{src}: {len(generated)} resources from Fn::ForEach -> {out}: {', '.join(sorted(generated))}")


if __name__ == "__main__":
    main(sys.argv[1:])
