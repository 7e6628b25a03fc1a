/**
 * The TOSCA Simple Profile 1.3 normative types unikit understands: the roots, Endpoint,
 * ConnectsTo and DependsOn, and the normative policies. Loaded before every template as if it
 * were imported, under the name below.
 */
export const NORMATIVE_FILE = '<TOSCA 1.3 normative types>';

export const NORMATIVE_TYPES = `
tosca_definitions_version: tosca_simple_yaml_1_3
description: TOSCA Simple Profile in YAML 1.3, the normative types unikit uses

data_types:
  tosca.datatypes.Root:
    description: The root of every complex data type

capability_types:
  tosca.capabilities.Root:
    description: The root of every capability type
  tosca.capabilities.Node:
    derived_from: tosca.capabilities.Root
  tosca.capabilities.Container:
    derived_from: tosca.capabilities.Root
  tosca.capabilities.Endpoint:
    derived_from: tosca.capabilities.Root
    properties:
      protocol:
        type: string
        default: tcp
      port:
        type: integer
        required: false
        constraints:
          - in_range: [1, 65535]
      secure:
        type: boolean
        default: false
      url_path:
        type: string
        required: false
      port_name:
        type: string
        required: false
      network_name:
        type: string
        default: PRIVATE
      initiator:
        type: string
        default: source
        constraints:
          - valid_values: [source, target, peer]
    attributes:
      ip_address:
        type: string
  tosca.capabilities.Endpoint.Public:
    derived_from: tosca.capabilities.Endpoint
  tosca.capabilities.Endpoint.Admin:
    derived_from: tosca.capabilities.Endpoint

relationship_types:
  tosca.relationships.Root:
    attributes:
      tosca_id:
        type: string
      tosca_name:
        type: string
      state:
        type: string
  tosca.relationships.DependsOn:
    derived_from: tosca.relationships.Root
    valid_target_types: [tosca.capabilities.Node]
  tosca.relationships.HostedOn:
    derived_from: tosca.relationships.Root
    valid_target_types: [tosca.capabilities.Container]
  tosca.relationships.ConnectsTo:
    derived_from: tosca.relationships.Root
    valid_target_types: [tosca.capabilities.Endpoint]

node_types:
  tosca.nodes.Root:
    description: The root of every node type
    attributes:
      tosca_id:
        type: string
      tosca_name:
        type: string
      state:
        type: string
    capabilities:
      feature:
        type: tosca.capabilities.Node
    requirements:
      - dependency:
          capability: tosca.capabilities.Node
          node: tosca.nodes.Root
          relationship: tosca.relationships.DependsOn
          occurrences: [0, UNBOUNDED]

policy_types:
  tosca.policies.Root:
    description: The root of every policy type
  tosca.policies.Placement:
    derived_from: tosca.policies.Root
  tosca.policies.Scaling:
    derived_from: tosca.policies.Root
  tosca.policies.Update:
    derived_from: tosca.policies.Root
  tosca.policies.Performance:
    derived_from: tosca.policies.Root
`;
