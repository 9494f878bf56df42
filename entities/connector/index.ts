import { Connector } from "./connector.entity.js";
import { FieldMapping } from "./field-mapping.entity.js";
import { ConnectorRun } from "./run.entity.js";
import { TapState } from "./tap-state.entity.js";
import { WebhookDelivery } from "./webhook-delivery.entity.js";

export const CONNECTOR_ENTITIES = [Connector, FieldMapping, ConnectorRun, TapState, WebhookDelivery];
