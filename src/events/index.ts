export { appendEvents, appendEventsAtCommit, eventsAppendedBySql, wake, EVENT_LOCK_KEY } from "./append.js";
export { EventBus, type EventBusOptions } from "./bus.js";
export { listEvents, headSequence } from "./history.js";
export { EVENTS_CHANNEL, matches, type EventFilter, type NewEvent, type StoredEvent } from "./types.js";
