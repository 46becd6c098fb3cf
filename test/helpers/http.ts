/** The JSON body of a response, loosely typed for assertions (tests check its shape). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(res: Response): Promise<any> {
  return res.json();
}
