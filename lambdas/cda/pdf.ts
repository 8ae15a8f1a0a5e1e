/**
 * A plain, readable A4 PDF of a lab report (the CR-BIO's PDF copy): laboratory, patient (name, birth date, IPP),
 * report date, then one table of results per report (name, value, unit, reference range, flag). pdfkit with its
 * built-in Helvetica: no font file to ship.
 */

import PDFDocument from 'pdfkit';

export interface ResultsPdfRow {
  name: string;
  value: string;
  unit: string;
  range: string;
  /** The interpretation as a reader reads it ("Anormalement haut"…); empty when none. */
  flag: string;
  /** Abnormal: the row is printed in bold. */
  abnormal?: boolean;
  /** A panel's heading row, or a panel member (indented). */
  kind?: 'heading' | 'member';
}

export interface ResultsPdfInput {
  title: string;
  laboratory: { name: string; lines: string[] };
  patient: { name: string; birthDate?: string; ipp?: string };
  reportDate: Date;
  sections: { title: string; rows: ResultsPdfRow[] }[];
  /** Who validated the results (shown at the end). */
  validatedBy?: string;
}

const PARIS_DATE_TIME = new Intl.DateTimeFormat('fr-FR', {
  timeZone: 'Europe/Paris',
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

// WinAnsi (the standard PDF fonts' encoding) covers Latin-1 and a few extras; anything else would print garbage.
const WIN_ANSI_EXTRAS = '€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ';
const REPLACEMENTS: Record<string, string> = { '≤': '<=', '≥': '>=', '×': 'x', '\u2009': ' ', '\u202f': ' ' };

function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if ((cp >= 0x20 && cp < 0x7f) || (cp >= 0xa0 && cp <= 0xff) || WIN_ANSI_EXTRAS.includes(ch)) out += ch;
    else if (REPLACEMENTS[ch]) out += REPLACEMENTS[ch];
    else if (cp === 0x09 || cp === 0x0a) out += ' ';
    else out += '?';
  }
  return out;
}

const MARGIN = 50;
const COLUMNS = [
  { title: 'Examen', width: 190 },
  { title: 'Résultat', width: 75 },
  { title: 'Unité', width: 60 },
  { title: 'Valeurs de référence', width: 95 },
  { title: 'Interprétation', width: 75 },
];
const FONT_SIZE = 9;
const PADDING = 3;

/**
 * Renders the PDF.
 *
 * @example
 * const pdf = await renderResultsPdf({ title: "Compte rendu d'examens biologiques", laboratory: { name: 'Labo', lines: [] },
 *   patient: { name: 'DUPONT Jeanne' }, reportDate: new Date(), sections: [{ title: 'Biochimie', rows: [] }] });
 */
export function renderResultsPdf(input: ResultsPdfInput): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    info: { Title: printable(input.title), Creator: 'PFI', CreationDate: input.reportDate },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const bottom = doc.page.height - MARGIN;
  const left = MARGIN;
  const tableWidth = COLUMNS.reduce((s, c) => s + c.width, 0);

  doc.font('Helvetica-Bold').fontSize(13).text(printable(input.laboratory.name));
  doc.font('Helvetica').fontSize(9);
  for (const line of input.laboratory.lines) doc.text(printable(line));
  doc.moveDown(1.2);
  doc.font('Helvetica-Bold').fontSize(15).text(printable(input.title), { align: 'center' });
  doc.moveDown(0.8);

  doc.fontSize(10);
  const fact = (label: string, value: string | undefined) => {
    if (!value) return;
    doc.font('Helvetica-Bold').text(`${label} : `, { continued: true }).font('Helvetica').text(printable(value));
  };
  fact('Patient', input.patient.name);
  fact('Date de naissance', input.patient.birthDate);
  fact('IPP', input.patient.ipp);
  fact('Date du compte rendu', PARIS_DATE_TIME.format(input.reportDate));
  doc.moveDown(1);

  const rowHeight = (cells: string[], bold: boolean) => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(FONT_SIZE);
    return (
      Math.max(...cells.map((c, i) => doc.heightOfString(c || ' ', { width: COLUMNS[i]!.width - 2 * PADDING }))) +
      2 * PADDING
    );
  };
  const drawRow = (cells: string[], bold: boolean, shade: boolean) => {
    const h = rowHeight(cells, bold);
    if (doc.y + h > bottom) {
      doc.addPage();
      drawHeader();
    }
    const y = doc.y;
    if (shade) doc.rect(left, y, tableWidth, h).fill('#eeeeee').fillColor('black');
    let x = left;
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(FONT_SIZE);
    cells.forEach((c, i) => {
      doc.text(c, x + PADDING, y + PADDING, { width: COLUMNS[i]!.width - 2 * PADDING });
      x += COLUMNS[i]!.width;
    });
    doc
      .moveTo(left, y + h)
      .lineTo(left + tableWidth, y + h)
      .lineWidth(0.5)
      .strokeColor('#999999')
      .stroke();
    doc.x = left;
    doc.y = y + h;
  };
  const drawHeader = () =>
    drawRow(
      COLUMNS.map((c) => c.title),
      true,
      true,
    );

  for (const section of input.sections) {
    if (doc.y + 60 > bottom) doc.addPage();
    doc.x = left;
    doc.font('Helvetica-Bold').fontSize(11).text(printable(section.title));
    doc.moveDown(0.3);
    drawHeader();
    for (const row of section.rows) {
      const name = row.kind === 'member' ? `   ${row.name}` : row.name;
      const cells = [name, row.value, row.unit, row.range, row.flag].map(printable);
      drawRow(cells, row.kind === 'heading' || row.abnormal === true, false);
    }
    doc.moveDown(1);
  }
  if (input.validatedBy) {
    doc.x = left;
    doc
      .font('Helvetica')
      .fontSize(9)
      .text(`Résultats validés par ${printable(input.validatedBy)}`);
  }
  doc.end();
  return done;
}
