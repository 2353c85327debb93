// @panguard/auth-web: the panguard.auth.v1 services and messages for TypeScript, generated from
// proto/ by protoc-gen-es (`make generate`). Use them with @connectrpc/connect and
// @connectrpc/connect-web, for example:
//
//   const transport = createConnectTransport({ baseUrl: "https://auth.example.com" });
//   const auth = createClient(AuthService, transport);
//   const { user } = await auth.me({});
export * from "./gen/panguard/auth/v1/auth_pb.js";
export * from "./gen/panguard/auth/v1/admin_pb.js";
export * from "./gen/panguard/auth/v1/device_pb.js";
export * from "./gen/panguard/auth/v1/passkey_pb.js";
