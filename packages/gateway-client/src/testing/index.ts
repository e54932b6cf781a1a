export {
  createFakeOpenClawGateway,
  type FakeMethodHandler,
  type FakeOpenClawGateway,
  type FakeOpenClawGatewayOptions,
  type FakeRequestContext,
} from './fake-gateway.ts';
export type {
  FakeApprovalDecision,
  FakeApprovalHandle,
  FakeApprovalOutcome,
  FakeApprovalRequestInput,
  FakeConnection,
  FakeFrameSpec,
  FakePairingEntry,
  FakeReply,
  FakeRequestRecord,
  FakeSeqMode,
  FakeSkillInput,
  FakeTarget,
  FakeToolRunOptions,
  FakeToolRunResult,
} from './fake-types.ts';
