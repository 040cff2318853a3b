/** A subflow's failure, rejecting the parent's call to it (catchable there). */
export class SubflowFailed extends Error {
  override name = "SubflowFailed";
  constructor(
    message: string,
    /** The subflow's flow run ("" when it could not be created). */
    readonly flowRunId: string,
    /** The state it ended in. */
    readonly state: { type: string; message?: string },
  ) {
    super(message);
  }
}
